"""Every file in dags/ imports cleanly and defines DAGs that follow the project's conventions."""

from __future__ import annotations

from pathlib import Path

from airflow.dag_processing.dagbag import DagBag

DAGS = Path(__file__).resolve().parents[2] / "dags"


def convention_problems(bag: DagBag) -> list[str]:
    """Return what is wrong with the DAGs in ``bag``: import errors, and DAGs without tags or docs."""
    problems = [f"{path}: {error.splitlines()[-1]}" for path, error in bag.import_errors.items()]
    for dag_id, dag in sorted(bag.dags.items()):
        if not dag.tags:
            problems.append(f"{dag_id}: no tags")
        if not dag.doc_md:
            problems.append(f"{dag_id}: no doc_md")
    return problems


def test_dags_folder_imports_and_follows_conventions() -> None:
    bag = DagBag(dag_folder=str(DAGS))
    assert convention_problems(bag) == []
    files_with_dags = {Path(dag.fileloc).name for dag in bag.dags.values()}
    dag_files = {p.name for p in DAGS.glob("*.py") if not p.name.startswith("_")}
    assert dag_files <= files_with_dags, f"files without a DAG: {sorted(dag_files - files_with_dags)}"


def test_integrity_check_reports_broken_and_undocumented_dags(tmp_path: Path) -> None:
    """The check above can fail: an import error and a DAG without tags or docs are both reported."""
    (tmp_path / "broken_dag.py").write_text("from airflow.sdk import DAG\nraise RuntimeError('boom')\n")
    (tmp_path / "bare_dag.py").write_text("from airflow.sdk import DAG\nwith DAG('bare', schedule=None):\n    pass\n")
    problems = convention_problems(DagBag(dag_folder=str(tmp_path)))
    assert any("broken_dag.py" in p and "boom" in p for p in problems)
    assert "bare: no tags" in problems
    assert "bare: no doc_md" in problems
