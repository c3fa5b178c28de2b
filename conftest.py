"""The test environment, for unit tests and nbval alike.

The environment is fixed here, at import time, before any test or notebook kernel starts:
Jupyter, IPython and matplotlib write their settings to a throw-away folder, and a
developer's own LABKIT_* settings or API key never reach the tests (nbval's kernels
inherit this environment too). Every test starts in replay mode, offline, with no key.
"""
import atexit
import os
import shutil
import tempfile
from pathlib import Path

_scratch = Path(tempfile.mkdtemp(prefix="labkit-tests-"))
atexit.register(shutil.rmtree, _scratch, ignore_errors=True)
for _variable, _folder in [
    ("JUPYTER_CONFIG_DIR", "jupyter-config"),
    ("JUPYTER_DATA_DIR", "jupyter-data"),
    ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"),
    ("IPYTHONDIR", "ipython"),
    ("MPLCONFIGDIR", "matplotlib"),
]:
    os.environ[_variable] = str(_scratch / _folder)
os.environ["JUPYTER_PLATFORM_DIRS"] = "1"

os.environ["LABKIT_BACKEND"] = "replay"
os.environ["LABKIT_REPLAY_SPEED"] = "0"
for _variable in ["LABKIT_RECORD", "LABKIT_MODEL", "LABKIT_BASE_URL", "OPENAI_API_KEY",
                  "LABKIT_CASSETTE_DIR", "LABKIT_LOCAL_PORT", "LABKIT_GRADING"]:
    os.environ.pop(_variable, None)

