"""Multi-process training under ``torchrun`` (DistributedDataParallel).

``torchrun --nproc_per_node=N -m moodreel.train ...`` sets ``WORLD_SIZE``/``RANK``; without
it everything here is a no-op and training runs in one process. CPU uses the gloo backend,
GPUs use NCCL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from moodreel.train.engine import Shard


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def shard(self) -> Shard:
        return Shard(self.rank, self.world_size)


def init_distributed(use_cuda: bool) -> DistContext:
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistContext()
    context = DistContext(int(os.environ["RANK"]), world_size,
                          int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    if use_cuda:
        torch.cuda.set_device(context.local_rank)
    return context


def all_reduce_sum(tensor: torch.Tensor, context: DistContext) -> torch.Tensor:
    """Sum ``tensor`` over all processes (in place) and return it."""
    if context.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def synchronize(context: DistContext) -> None:
    """Wait until every process gets here; called once a run has succeeded, before exit.

    Without it a rank could exit right after its last ``all_reduce`` while a gloo worker
    thread still held that work's tensors (the group's threads outlive
    ``destroy_process_group`` here); freeing them during interpreter shutdown needs the
    GIL, and the rank died with SIGABRT ("terminate called without an active exception",
    seen in a core dump: ``~AsyncAllreduceWork`` -> ``decref_pyobject`` -> ``take_gil``)
    in 3 of 77 runs of ``tests/train/test_distributed.py``'s command, and in 0 of 80 with
    this wait. A barrier's work holds no tensors, and by the time every rank has reached
    it the all-reduce's work is gone."""
    if context.enabled:
        dist.barrier()


def shutdown(context: DistContext) -> None:
    if context.enabled and dist.is_initialized():
        dist.destroy_process_group()
