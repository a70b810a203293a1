"""Users, groups and apps as a file: ``authgate export`` writes it, ``authgate apply`` makes
the store match it.

``model.py`` reads and writes the file (every problem reported at once), ``plan.py`` compares
the store with the file and lists the changes (pure), ``writes.py`` holds the few writes the
Store has no method for, ``apply.py`` carries a plan out.
"""
