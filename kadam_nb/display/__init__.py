"""Pictures and tables of jobs (graphviz and pandas live here, each in one module)."""
