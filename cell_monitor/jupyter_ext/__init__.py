"""The Jupyter server extension: the student-side half of cell-monitor.

It receives event batches from the JupyterLab extension (same origin,
authenticated by Jupyter), keeps them in a durable on-disk queue and forwards
them to the class server. It imports nothing of the class server (FastAPI,
SQLAlchemy), so that the student-side install stays light.
"""
