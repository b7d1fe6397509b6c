"""Stop mass deletes for a human: more deletes than the threshold wait for approval in the Airflow UI."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator


class DeleteApprovalOperator(ApprovalOperator):
    """Approve the plan's deletes when there are more than ``threshold`` of them, or any at all while the source
    returned nothing; pass straight through otherwise.

    A source that suddenly returns nothing (permissions changed, wrong user) would otherwise delete the whole
    target, however small; like vdirsyncer on an empty side, the run stops and asks. Rejecting skips the deletes.

    :param threshold: the most deletes that go ahead without asking.
    :param plan_task_id: the plan task whose XCom holds the counts.
    """

    template_fields: Sequence[str] = (*ApprovalOperator.template_fields, "threshold")

    def __init__(self, *, threshold: Any = 20, plan_task_id: str = "plan", **kwargs: Any) -> None:
        kwargs.setdefault("subject", "Approve deleting events from the target calendar")
        super().__init__(**kwargs)
        self.threshold = threshold
        self.plan_task_id = plan_task_id

    def execute(self, context: Any) -> Any:
        planned = context["ti"].xcom_pull(task_ids=self.plan_task_id) or {}
        deletes = int((planned.get("counts") or {}).get("delete", 0))
        threshold = int(self.threshold)
        empty_side = deletes > 0 and planned.get("source_rows") == 0  # however few: all of them
        if planned.get("dry_run") or (deletes <= threshold and not empty_side):
            self.log.info("%d deletes planned (threshold %d): no approval needed", deletes, threshold)
            return {"chosen_options": [self.APPROVE], "params_input": {}, "auto": True}
        why = (
            "the source returned no events at all for this window (permissions changed? the wrong user?)"
            if empty_side
            else f"more than the threshold of {threshold}"
        )
        self.body = (
            f"The plan of run {context['run_id']} deletes **{deletes}** events: {why}.\n\n"
            f"The plan is at `{planned.get('plan')}`. Approve to delete them; reject to skip the deletes "
            "(creates and updates are not affected)."
        )
        self.log.warning("%d deletes planned, %s: waiting for approval", deletes, why)
        return super().execute(context)
