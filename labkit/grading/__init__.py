"""Grading: the student release (`make release`) and sandboxed autograding (`make grade`).

release.py  student notebooks made with nbgrader's own preprocessors
sandbox.py  run a command isolated: bubblewrap namespaces, rlimits, cgroups, a wall clock
runner.py   inside the sandbox: run the notebook in a kernel, judge its checks from outside it
grade.py    assemble, run and score every submission; grades.csv and feedback files
"""
