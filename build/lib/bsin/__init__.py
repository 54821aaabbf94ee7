"""Baltic Sea Impact Network feedback pipeline: the domain package the DAGs wire together.

Keep this module import-light: DAG files import from here at parse time.
"""
