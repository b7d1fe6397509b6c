"""Reliability and security suite: the DAG fixtures of ``tests/dags`` (real ``dag.test`` runs against both
emulators). Its figures are summed and printed by the plugin in ``figures.py``; ``CALENDAR_ETL_STRESS=1``
(``make stress``) raises the trial counts.
"""

from __future__ import annotations

from tests.dags.conftest import airflow_db, dags  # noqa: F401  (fixtures shared with tests/dags)
