"""The grading side of the course: exercise specs, notebook sync, nbgrader extensions and commands.

This folder is also the nbgrader course directory (see ``nbgrader_config.py``). It is not installed
as a package, so that nothing here can be imported by a submission while it is graded.
"""
