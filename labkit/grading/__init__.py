"""Grading: the student release (`make release`) and sandboxed autograding (`make grade`).

release.py  student notebooks made with nbgrader's own preprocessors
runner.py   inside the sandbox: run the notebook in a kernel, judge its checks from outside it
grade.py    assemble, run and score every submission; grades.csv and feedback files

The sandbox each submission runs in is labkit.patterns.sandbox, shared with notebook 06,
which runs the code an agent writes in it: lesson code never imports instructor code.
"""
