"""Run leases: which process executes a run, and finding the runs nobody executes any more.

A process executing runs holds each through a lease on its row (``lease_owner``,
``lease_expires_at``, and the ``fencing_token`` its writes carry; ``run_records`` takes it
with ``mark_running``). While the process lives, its ``RunExecutor`` renews the leases
(``renew_leases``) and reads the rows (``held_runs``) for cancel requests and take-overs.

When it dies, two things can be left behind, and the scheduler's loops hand them on:

- the reaper: ``running`` runs whose lease expired (``expired_runs``). ``requeue_expired``
  puts each back to ``queued``, a compare-and-set on its token and expiry, so of several
  reapers exactly one re-enqueues it; the next worker continues it from its last checkpoint.
- the sweeper: ``queued`` runs that no worker took for a while (``stale_queued``): their
  enqueue failed (Redis was away), or the message was lost with Redis's memory.
  ``touch_queued`` marks each as swept, a compare-and-set again, so it is re-enqueued once
  per interval however many sweepers run. A message sent twice is harmless: the second
  worker's ``mark_running`` finds the run taken or ended and drops it.

Runs of the command line's tenant (``plait run`` executes them itself, holding no lease) and
child runs (their parent's ``workflow`` node continues them) are never handed on.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.expressions import Q

from api.services.child_runs import CHILD_KEY_PREFIX
from api.services.run_records import LOCAL_TENANT_ID, LeaseTerms
from shared.database.models import RunStatus, WorkflowRun

__all__ = [
    "HeldRun",
    "expired_runs",
    "held_runs",
    "process_owner",
    "release_leases",
    "renew_leases",
    "requeue_expired",
    "stale_queued",
    "touch_queued",
]


def process_owner() -> str:
    """A lease owner naming this process (host and pid, for people reading the row) and a
    random part (a restarted process may get the same pid)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class HeldRun:
    """What the executing process needs to know of one of its runs' rows."""

    id: str
    lease_owner: str | None
    fencing_token: int
    cancel_requested: bool


async def held_runs(run_ids: Collection[str]) -> list[HeldRun]:
    """The lease and cancel request of each run (one query for all of a process's runs)."""
    rows = await WorkflowRun.filter(id__in=list(run_ids)).values_list(
        "id", "lease_owner", "fencing_token", "cancel_requested_at"
    )
    return [
        HeldRun(run_id, owner, token, requested is not None)
        for run_id, owner, token, requested in rows
    ]


async def renew_leases(terms: LeaseTerms, run_ids: Collection[str], *, at: datetime) -> int:
    """Push the expiry of the process's leases on ``run_ids`` forward; how many it holds.

    Only rows the process still holds are touched: a lease someone took over is not taken
    back, and a run that stopped executing holds no lease.
    """
    return await WorkflowRun.filter(
        id__in=list(run_ids), lease_owner=terms.owner, status=RunStatus.RUNNING
    ).update(**terms.lease_fields(at))


async def release_leases(owner: str, *, at: datetime) -> int:
    """Expire every lease ``owner`` holds (the process stops), so the reaper hands its runs
    on at its next pass; how many."""
    return await WorkflowRun.filter(lease_owner=owner, status=RunStatus.RUNNING).update(
        lease_expires_at=at
    )


def _handed_on() -> Q:
    """Runs the reaper and the sweeper may hand to a worker (see the module docstring)."""
    return ~Q(tenant_id=LOCAL_TENANT_ID) & (
        Q(idempotency_key__isnull=True) | ~Q(idempotency_key__startswith=CHILD_KEY_PREFIX)
    )


def _lapsed(at: datetime, unleased_after_s: float) -> Q:
    """``running`` rows nobody holds: a lease that expired before ``at``, or no lease at all
    and no write for ``unleased_after_s`` (an execution that held none, e.g. of a version
    before leases existed, whose process is gone)."""
    untouched_since = at - timedelta(seconds=unleased_after_s)
    return Q(status=RunStatus.RUNNING) & (
        Q(lease_expires_at__lt=at)
        | Q(lease_expires_at__isnull=True, updated_at__lt=untouched_since)
    )


async def expired_runs(*, at: datetime, unleased_after_s: float, limit: int) -> list[WorkflowRun]:
    """``running`` runs whose lease lapsed (``_lapsed``), those that lapsed first first."""
    return (
        await WorkflowRun.filter(_handed_on(), _lapsed(at, unleased_after_s))
        .order_by("lease_expires_at", "updated_at")
        .limit(limit)
        .only("id", "fencing_token")
    )


async def requeue_expired(run: WorkflowRun, *, at: datetime, unleased_after_s: float) -> bool:
    """Put a run whose lease lapsed back to ``queued``, unless another reaper did, or its
    worker renewed the lease or finished meanwhile; whether this call did.

    The fencing token moves on: the execution that held the run (a worker that hung rather
    than died) learns at its next look at the row that it lost the run, and stops; none of
    its writes match the row any more.
    """
    updated = await WorkflowRun.filter(
        _lapsed(at, unleased_after_s), id=run.id, fencing_token=run.fencing_token
    ).update(
        status=RunStatus.QUEUED,
        lease_owner=None,
        lease_expires_at=None,
        fencing_token=run.fencing_token + 1,
        updated_at=at,
    )
    return updated > 0


async def stale_queued(*, at: datetime, after_s: float, limit: int) -> list[WorkflowRun]:
    """``queued`` runs not touched for ``after_s`` seconds, oldest first."""
    before = at - timedelta(seconds=after_s)
    return (
        await WorkflowRun.filter(_handed_on(), status=RunStatus.QUEUED, updated_at__lt=before)
        .order_by("updated_at")
        .limit(limit)
        .only("id", "updated_at")
    )


async def touch_queued(run: WorkflowRun, *, at: datetime) -> bool:
    """Mark a stale queued run as swept at ``at``, unless another sweeper did or a worker
    took it meanwhile; whether this call did."""
    updated = await WorkflowRun.filter(
        id=run.id, status=RunStatus.QUEUED, updated_at=run.updated_at
    ).update(updated_at=at)
    return updated > 0
