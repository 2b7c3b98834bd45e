"""Train a tiny model for a few steps and write its validation loss after every step as JSON.

    python tests/ddp_train.py OUT BATCH ACCUM                 # one process
    torchrun --standalone --nproc_per_node=2 tests/ddp_train.py OUT BATCH ACCUM

Used by tests/test_train.py: two processes with batch B, one process with batch 2B, and one
process with batch B and 2 accumulation steps all see the same global batches, so their losses
must agree.
"""

import json
import sys

import torch
from torch.utils.data import DataLoader, DistributedSampler

from llmcourse.config import GPTConfig
from llmcourse.data import SlidingWindowDataset
from llmcourse.model import GPTModel
from llmcourse.runtime import is_main_process, setup_distributed
from llmcourse.train import TrainConfig, train


def main(out: str, batch_size: int, accum: int) -> None:
    distributed = setup_distributed()
    torch.set_num_threads(1)
    torch.manual_seed(0)  # the same initial weights in every process; also the sampler's seed
    cfg = GPTConfig.preset("tiny", vocab_size=40, context_length=16, n_embd=32, dropout=0.0)
    model = GPTModel(cfg)
    ids = (torch.arange(3000) * 7 + torch.arange(3000) // 11) % 37
    train_set = SlidingWindowDataset(ids[:2600], max_length=16, stride=8)
    if distributed:  # train() gives each process its share with a DistributedSampler
        loader = DataLoader(
            train_set,
            batch_size,
            shuffle=True,
            drop_last=True,
            generator=torch.Generator().manual_seed(1),
        )
    else:  # the same order of windows as the processes above share
        sampler = DistributedSampler(train_set, num_replicas=1, rank=0, seed=0, drop_last=True)
        loader = DataLoader(train_set, batch_size, sampler=sampler, drop_last=True)
    val = DataLoader(SlidingWindowDataset(ids[2600:], max_length=16, stride=16), batch_size=8)
    run = TrainConfig(
        max_steps=6,
        lr=3e-3,
        min_lr=1e-4,
        warmup_steps=2,
        grad_clip=1.0,
        eval_every=1,
        eval_batches=None,
        grad_accum_steps=accum,
        progress=False,
    )
    history = train(model, loader, val, run)
    if is_main_process():
        with open(out, "w") as f:
            json.dump({"val_loss": history.val_loss, "tokens_seen": history.tokens_seen}, f)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
