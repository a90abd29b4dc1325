"""The party agent: a state machine driven by chain views, resumable from a local checkpoint."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from dppdl.chain.clients import PartyInfo, PartyStatus, TaskInfo, TaskState
from dppdl.chain.reverts import revert_class
from dppdl.errors import ContractRevert, UserError
from dppdl.files import atomic_write
from dppdl.learning.dpgan import DPGANResult
from dppdl.learning.prepared import PreparedCache
from dppdl.party import epoch as steps
from dppdl.party.context import PartyContext
from dppdl.party.disputes import DisputeDuties
from dppdl.party.reveals import serve_reveals
from dppdl.party.rounds import (
    SampleCache,
    credibility_row,
    post_labels,
    publish_samples,
    score_and_report,
)
from dppdl.party.waiting import pause

RESULT_FILE = "result.json"


class PartyAgent:
    """Joins a task and follows it to the end: benchmarking, then every training epoch.

    Each step of the epoch the process started in first asks the chain whether it already
    happened (after a crash or restart), so a party never requests, uploads or pays twice;
    learner progress is checkpointed atomically with the weights it describes.
    """

    def __init__(self, ctx: PartyContext) -> None:
        self.ctx = ctx
        self.samples = SampleCache(ctx)
        self._serving_epoch = 0
        self._task: TaskInfo | None = None  # as the loop last read it
        self.disputes = DisputeDuties(ctx)
        ctx.serve = self.serve

    # -- main loop -----------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        ctx = self.ctx
        while True:
            task, roster, head = ctx.snapshot()
            self._task = task
            if ctx.first_epoch is None:
                ctx.first_epoch = task.epoch
            if task.state in (TaskState.BENCHMARKING, TaskState.TRAINING):
                ctx.metrics.phase = str(task.epoch)  # what follows is booked to this phase
            if task.state == TaskState.CANCELLED:
                raise UserError(f"task {ctx.task_id} was cancelled by its requester")
            me = self._entry(roster)
            if me is None:
                self.join(task)
                continue
            if me.status == PartyStatus.REMOVED:
                ctx.log("removed from the credible set by a majority of reports; stopping")
                return self._finish(task, removed=True)
            if task.state in (TaskState.PUBLISHED, TaskState.JOINING):
                self._wait_for_start(task, head)
            elif task.state == TaskState.FINISHED:
                return self._finish(task, removed=False)
            elif me.done_epoch == task.epoch:
                self._wait_for_next_phase(task, head)
            elif task.epoch == 0:
                self._benchmark(task, roster)
            else:
                self._train_epoch(task, roster)

    # -- phases --------------------------------------------------------------------------
    def join(self, task: TaskInfo) -> None:
        """Prepare (pretrain, DP-GAN, samples; once, checkpointed) and send the init tx."""
        ctx = self.ctx
        if task.state not in (TaskState.PUBLISHED, TaskState.JOINING):
            raise UserError(f"task {ctx.task_id} is {task.state.name} and takes no new parties")
        p = ctx.participant
        if not ctx.learner_marks.get("prepared"):
            gan = self._prepare()
            ctx.metrics.dp_epsilon_spent = gan.dp_epsilon_spent
            with ctx.metrics.timed("training"):
                ctx.metrics.accuracy["0"] = p.evaluate(ctx.test_x, ctx.test_y)
            ctx.save_learner(prepared=True)
        samples = np.stack([p.release_samples(round=r).numpy() for r in range(ctx.spec.epochs + 1)])
        digest = publish_samples(ctx, samples)
        try:
            ctx.send(
                0,
                ctx.client.join,
                task_id=ctx.task_id,
                public_key=ctx.keys.public_bytes,
                privacy_ppm=p.privacy_ppm,
                samples_digest=digest,
            )
        except ContractRevert as exc:
            if self.membership() is not None:
                return  # our own earlier join landed meanwhile
            raise UserError(f"cannot join task {ctx.task_id}: {exc}") from None
        ctx.log(
            f"joined task {ctx.task_id} (privacy level {p.privacy_level:.3f}, "
            f"{p.sample_count} samples per round)"
        )

    def _prepare(self) -> DPGANResult:
        """Pretrain and train the DP-GAN, or restore either from the prepared cache if it has
        it (the same shard, seeds, configs and code: the same result, see its module)."""
        ctx, p = self.ctx, self.ctx.participant
        folder = ctx.config.prepared_cache
        cache = None if folder is None else PreparedCache(folder, log=ctx.log)
        model = None if cache is None else cache.model_entry(p)
        model_hit = False
        if model is not None and model.restore():
            model_hit = True
            ctx.log(f"standalone model restored from {model.path}")
        else:
            ctx.log(f"pretraining the standalone model on {p.n_examples} examples")
            with ctx.metrics.timed("training"):
                p.pretrain()
            if model is not None:
                model.save()
        entry = None if cache is None else cache.gan_entry(p)
        gan_hit = False
        if entry is not None and entry.restore():
            gan_hit, gan = True, p.trained_gan
            ctx.log(f"DP-GAN restored from {entry.path} "
                    f"(ε = {gan.dp_epsilon_spent:.2f} at δ = {gan.delta:g})")  # fmt: skip
        else:
            ctx.log("training the DP-GAN")
            with ctx.metrics.timed("dpgan"):
                gan = p.train_gan()
            ctx.log(
                f"DP-GAN done: ε = {gan.dp_epsilon_spent:.2f} at δ = {gan.delta:g} "
                f"({gan.steps} steps, {gan.seconds:.1f} s)"
            )
            if entry is not None:
                entry.save()
        ctx.metrics.prepared_from_cache = model_hit and gan_hit
        return gan

    def _benchmark(self, task: TaskInfo, roster: list[PartyInfo]) -> None:
        post_labels(self.ctx, self.samples, epoch=0, roster=roster)
        score_and_report(self.ctx, epoch=0, task=task, roster=roster)

    def _train_epoch(self, task: TaskInfo, roster: list[PartyInfo]) -> None:
        """The task's current epoch of Algorithm 2, with the task and roster read when it began
        (deadlines and the credible set change only when the phase closes)."""
        ctx = self.ctx
        epoch = task.epoch
        self._serving_epoch = epoch
        me = next(p for p in roster if p.address == ctx.address)
        ctx.metrics.points.setdefault(str(epoch - 1), me.balance)  # settled balance so far
        c_row = credibility_row(ctx, epoch=epoch, roster=roster)
        delta = steps.local_update(ctx, epoch=epoch)
        # balances are read again: a dispute settling meanwhile moves deposits and payments
        steps.request_downloads(ctx, epoch=epoch, c_row=c_row, roster=ctx.roster())
        steps.upload(ctx, task=task, delta=delta, roster=roster)
        steps.aggregate(ctx, task=task, roster=roster, own_update=delta)
        if str(epoch) not in ctx.metrics.accuracy:
            with ctx.metrics.timed("training"):
                ctx.metrics.accuracy[str(epoch)] = ctx.participant.evaluate(ctx.test_x, ctx.test_y)
        ctx.log(f"epoch {epoch}: test accuracy {100 * ctx.metrics.accuracy[str(epoch)]:.2f}%")
        post_labels(ctx, self.samples, epoch=epoch, roster=roster)
        score_and_report(ctx, epoch=epoch, task=task, roster=roster)

    # -- waiting -------------------------------------------------------------------------
    def serve(self, head: int | None = None) -> int:
        """Duties owed to others while waiting: disputes (answer, vote, settle), then mask-key
        reveals for their dropped senders. One block number serves both: `head`, or if not
        given the latest, read with the dispute scan. Returns it."""
        head = self.disputes.serve(head=head)
        if self._serving_epoch >= 1 and self._task is not None:  # the loop's task: its phase
            serve_reveals(self.ctx, epoch=self._serving_epoch, head=head,
                          upload_deadline=self._task.upload_deadline)  # fmt: skip
        return head

    def _wait_for_start(self, task: TaskInfo, head: int) -> None:
        ctx = self.ctx
        if task.joined >= 3 and head > task.params.join_deadline:
            self._try(ctx.client.start_task, task_id=ctx.task_id)
        pause(ctx, head=head)

    def _wait_for_next_phase(self, task: TaskInfo, head: int) -> None:
        ctx = self.ctx
        self._serving_epoch = max(self._serving_epoch, task.epoch)  # also after a restart
        if head > task.phase_deadline:
            self._try(ctx.client.advance_epoch, task_id=ctx.task_id)
        pause(ctx, head=head)

    def _try(self, call: Any, **kwargs: Any) -> None:
        """A transaction anyone may send; losing the race to another party is fine."""
        try:
            self.ctx.send(self.ctx.task().epoch, call, **kwargs)
        except (
            revert_class("EpochNotOver"),
            revert_class("TaskWrongState"),
            revert_class("StartNotReady"),
        ):
            pass

    def membership(self) -> PartyInfo | None:
        """This party's roster entry on the chain, or None before it joined."""
        return self._entry(self.ctx.roster())

    def _entry(self, roster: list[PartyInfo]) -> PartyInfo | None:
        return next((p for p in roster if p.address == self.ctx.address), None)

    # -- the end -------------------------------------------------------------------------
    def _finish(self, task: TaskInfo, *, removed: bool) -> dict[str, Any]:
        ctx = self.ctx
        self.disputes.settle_before_exit()  # answers and votes owed may outlive the last epoch
        me = self.membership()
        result = {
            "task_id": ctx.task_id,
            "address": ctx.address,
            "roster_index": None if me is None else me.index,
            "shard_index": ctx.participant.index,
            "privacy_level": ctx.participant.privacy_level,
            "n_examples": ctx.participant.n_examples,
            "behaviour": ctx.config.behaviour,
            "removed": removed,
            "final_balance": None if me is None else me.balance,
            "missed_uploads": None if me is None else me.missed_uploads,
            "disputes_lost": None if me is None else me.disputes_lost,
            # epoch -> the senders whose summed blobs this party opened and applied
            "opened": {
                str(e): ctx.checkpoint.get(f"opened:{e}")
                for e in range(1, task.params.epochs + 1)
                if ctx.checkpoint.get(f"opened:{e}") is not None
            },
            "final_params_sha256": _params_digest(ctx.participant.params()),
            **ctx.metrics.to_json(),
        }
        if me is not None:  # the balance stays put after the last epoch or a removal
            for r in range(task.params.epochs + 1):
                ctx.metrics.points.setdefault(str(r), me.balance)
        ctx.checkpoint.put("metrics", ctx.metrics.to_json())
        atomic_write(
            ctx.checkpoint.folder / RESULT_FILE,
            json.dumps(result, indent=1, sort_keys=True).encode(),
        )
        np.save(ctx.checkpoint.folder / "final_params.npy", ctx.participant.params())
        ctx.log(f"finished: {'removed' if removed else 'task complete'}")
        return result


def _params_digest(params: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(params, dtype=np.float32).tobytes()).hexdigest()
