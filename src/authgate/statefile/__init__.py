"""Users, groups and apps as a file: ``authgate export`` writes it, ``authgate apply`` makes
the store match it.

``model.py`` reads and writes the file (every problem reported at once), ``rules.py`` checks
an access rule (shared with ``authgate app rule add``), ``plan.py`` compares the store with
the file and lists the changes (pure), ``apply.py`` carries a plan out with the Store's use
cases.
"""
