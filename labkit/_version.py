"""labkit's version, and the check that a notebook runs with the labkit it was written for."""
__version__ = "0.2.0"


class LabkitVersionError(RuntimeError):
    """The notebook was written for another labkit than the one installed."""


def check_version(wanted: str) -> None:
    """The installed labkit must match the notebook's major.minor version."""
    if wanted.split(".")[:2] != __version__.split(".")[:2]:
        raise LabkitVersionError(
            f"This notebook was written for labkit {wanted}, but the kernel has labkit "
            f"{__version__}. From the course folder run `make lab` (it installs the matching "
            "labkit), then restart the kernel."
        )
