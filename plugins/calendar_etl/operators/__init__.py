"""Operators of a sync run: extract → plan → (approve deletes) → load[batch] → report."""

from calendar_etl.operators.approval import DeleteApprovalOperator
from calendar_etl.operators.export import ExportOperator
from calendar_etl.operators.extract import GaroonExtractOperator, IcsExtractOperator, LineWorksExtractOperator
from calendar_etl.operators.load import LoadBatchOperator
from calendar_etl.operators.plan import PlanOperator, batches_of
from calendar_etl.operators.report import ReportOperator

__all__ = [
    "DeleteApprovalOperator",
    "ExportOperator",
    "GaroonExtractOperator",
    "IcsExtractOperator",
    "LineWorksExtractOperator",
    "LoadBatchOperator",
    "PlanOperator",
    "ReportOperator",
    "batches_of",
]
