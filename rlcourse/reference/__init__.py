"""Reference implementations of exercises that a later chapter, the support package or a benchmark
reuses. One module per chapter (``chNN_<name>.py``, named like the chapter's ``solutions/`` module),
so that each exists once and grading chapter N can keep chapter N's own module out of reach.
References that nothing else uses stay in ``solutions/``.
"""
