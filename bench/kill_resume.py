"""Kill `headstart pretrain` with SIGKILL at random moments, resume it, and check the final weights
against a run never interrupted (same seed, CPU): bit-identical, or the kill point is reported.

Half the kills land at a uniformly random time in the training phase (during a step, a checkpoint
write, or between them); the other half land in the middle of the k-th checkpoint write, k >= 2
random (the run's writes are slowed to ~2 s each so the kill can be aimed). After each kill the bench checks that
`checkpoints/last.ckpt` loads, then resumes with `--resume` (or, killed before the first
checkpoint, starts over with `--overwrite`) and compares every tensor: the exported backbone,
the module's state dict (heads too) and the optimizer state.

    python bench/kill_resume.py --kills 20            # ~15-30 min on 2 CPU cores

`--chain` is the pre-emption idiom at a realistic scale: ONE run (resnet-mini on Fashion-MNIST,
`--steps`, default 3,000 = about 30 minutes on one thread) is killed `--kills` times at random
moments (each attempt lives `--attempt-seconds`, uniform) and re-run with the same command and
`--resume` every time, the first included (a fresh folder starts the run); meanwhile the same
command runs uninterrupted beside it (one thread each, so both do the same arithmetic). The chain
must end bit-identical to the reference; for each kill it reports the training time lost: from the
later of the attempt's start of training and its last checkpoint write to the kill.

    python bench/kill_resume.py --chain --kills 20 --every 1m --json bench/out/kill-chain.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

SLOW_WRITES = """
import sys, time
import headstart.train.trainer as trainer
write = trainer._KeepsWriteErrors.write
def slow(self, data):
    time.sleep(0.002)
    return write(self, data)
trainer._KeepsWriteErrors.write = slow
from headstart.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def make_folder(root: Path, per_class: int = 32) -> Path:
    """Real Fashion-MNIST test images as PNGs in 3 class folders."""
    from PIL import Image

    from headstart.data.idx import open_idx

    data = open_idx("fashion-mnist", "test")
    for c in (0, 1, 7):
        (root / str(c)).mkdir(parents=True, exist_ok=True)
        for i in (data.labels == c).nonzero()[0][:per_class]:
            Image.fromarray(data.images[i, 0].numpy()).save(root / str(c) / f"{i:05d}.png")
    return root


def command(args: argparse.Namespace, out: Path, *extra: str, launcher: Path | None = None) -> list[str]:
    entry = [str(launcher)] if launcher else ["-m", "headstart.cli.main"]
    return [sys.executable, *entry, "pretrain", "--data", str(args.data), "--out", str(out), "--steps",
            str(args.steps), "--seed", "5", "--checkpoint-every", "1steps", "--batch-size", "16",
            "--no-progress", "--no-monitor", *extra]


def env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}


def final_state(run: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    state = {f"exported.{k}": v for k, v in load_file(str(run / "exported" / "backbone.safetensors")).items()}
    state.update({f"module.{k}": v for k, v in ckpt["state_dict"].items()})
    for i, s in ckpt["optimizer_states"][0]["state"].items():
        state.update({f"adam.{i}.{k}": torch.as_tensor(v) for k, v in s.items()})
    return state


def partial_files(out: Path) -> list[Path]:
    folder = out / "checkpoints"
    return [p for p in folder.glob(".last.ckpt.*.tmp")] if folder.is_dir() else []


def kill_once(args: argparse.Namespace, out: Path, mode: str, train_seconds: float, rng: random.Random,
              launcher: Path) -> dict:
    """Start a run, SIGKILL it at a point chosen by `mode`, and describe what was left."""
    proc = subprocess.Popen(command(args, out, launcher=launcher if mode == "during-write" else None),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env())
    while not (out / "config.yaml").is_file() and proc.poll() is None:
        time.sleep(0.005)
    if mode == "during-write":  # inside the k-th checkpoint write, k >= 2: an earlier one must survive
        k, seen = rng.randint(2, args.steps), set()
        while len(seen) < k and proc.poll() is None:
            seen.update(p.name for p in partial_files(out))
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 1.5))
    else:
        time.sleep(rng.uniform(0.0, train_seconds))
    partial = bool(partial_files(out))
    if proc.poll() is not None:
        return {"mode": mode, "killed": False, "note": "the run ended before the kill"}
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    last = out / "checkpoints" / "last.ckpt"
    row = {"mode": mode, "killed": True, "partial_file_at_kill": partial, "last_ckpt": last.is_file()}
    if last.is_file():
        ckpt = torch.load(last, map_location="cpu", weights_only=False)  # must always load
        row["step_kept"] = int(ckpt["global_step"])
        loader = ckpt["loops"]["fit_loop"]["state_dict"].get("combined_loader", [{}])[0]
        row["epoch_position"] = [loader.get("epoch"), loader.get("batches")]
    return row


def chain_command(out: Path, steps: int, every: str) -> list[str]:
    return [sys.executable, "-m", "headstart.cli.main", "pretrain", "--data", "fashion-mnist", "--out", str(out),
            "--steps", str(steps), "--seed", "5", "--checkpoint-every", every, "--no-progress", "--resume"]


def chain(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="kill-chain-"))
    one = {**os.environ, "OMP_NUM_THREADS": "1"}
    rng = random.Random(args.seed)
    low, high = args.attempt_seconds
    start = time.perf_counter()
    reference = subprocess.Popen(chain_command(work / "reference", args.steps, args.every),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=one)
    out, last, rows = work / "chain", work / "chain" / "checkpoints" / "last.ckpt", []
    for kill in range(args.kills + 1):
        began = time.time()
        proc = subprocess.Popen(chain_command(out, args.steps, args.every), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=one)
        said = proc.stdout.readline().strip()  # "resuming ... at step N" / "nothing to resume ..." / finished
        training = time.time()  # the model is built and data loaded right after this line
        if kill < args.kills:  # keep the pipe drained so the run never blocks on a full one
            threading.Thread(target=proc.stdout.read, daemon=True).start()
        if kill == args.kills:
            rest = proc.communicate()[0]
            rows.append({"attempt": kill, "said": said, "exit": proc.returncode, "tail": rest.strip()[-300:]})
            break
        try:
            proc.wait(timeout=rng.uniform(low, high))
            rows.append({"attempt": kill, "said": said, "exit": proc.returncode, "note": "ended before its kill"})
            break
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        killed = time.time()
        saved = last.stat().st_mtime if last.is_file() else 0.0
        step = int(torch.load(last, map_location="cpu", weights_only=False)["global_step"]) if last.is_file() else 0
        lost = killed - max(training, saved)
        rows.append({"attempt": kill, "said": said, "lived_s": round(killed - began, 1), "step_kept": step,
                     "lost_training_s": round(lost, 1), "checkpoint_in_attempt": saved > training})
        print(json.dumps(rows[-1]), flush=True)
    chain_s = time.perf_counter() - start
    assert reference.wait() == 0, "the reference run failed"
    ref, got = final_state(work / "reference"), final_state(out)
    identical = ref.keys() == got.keys() and all(torch.equal(ref[k], got[k]) for k in ref)
    lost = [r["lost_training_s"] for r in rows if "lost_training_s" in r]
    summary = {"kills": len(lost), "steps": args.steps, "every": args.every, "bit_identical": identical,
               "lost_s_max": max(lost, default=0), "lost_s_mean": round(sum(lost) / max(1, len(lost)), 1),
               "chain_wall_s": round(chain_s), "final": rows[-1]}
    print(json.dumps(summary), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if identical else 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chain", action="store_true", help="one long run killed and resumed --kills times")
    parser.add_argument("--every", default="1m", help="--checkpoint-every of the chained run")
    parser.add_argument("--attempt-seconds", type=float, nargs=2, default=(45.0, 135.0),
                        help="each chained attempt is killed after uniform(LOW, HIGH) seconds")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--steps", type=int, default=12, help="steps per run (6 per epoch)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill times")
    parser.add_argument("--data", type=Path, default=None, help="image folder (default: 96 Fashion-MNIST PNGs)")
    parser.add_argument("--json", type=Path, default=None, help="write the rows here")
    args = parser.parse_args()
    if args.chain:
        args.steps = 3000 if args.steps == 12 else args.steps
        return chain(args)
    work = Path(tempfile.mkdtemp(prefix="kill-resume-"))
    args.data = args.data or make_folder(work / "images")
    launcher = work / "slow_writes.py"
    launcher.write_text(SLOW_WRITES)
    rng = random.Random(args.seed)

    proc = subprocess.Popen(command(args, work / "reference"), stdout=subprocess.DEVNULL, env=env())
    while not (work / "reference" / "config.yaml").is_file() and proc.poll() is None:
        time.sleep(0.005)
    start = time.perf_counter()  # training starts about when config.yaml is written
    assert proc.wait() == 0, "the reference run failed"
    train_seconds = time.perf_counter() - start
    reference = final_state(work / "reference")
    print(f"reference run: {train_seconds:.0f} s of training, {len(reference)} tensors", flush=True)

    rows, i = [], 0
    while sum(r["killed"] for r in rows) < args.kills:  # a run that ended before its kill point is not a kill
        out, i = work / f"kill{i}", i + 1
        row = kill_once(args, out, "during-write" if i % 2 == 0 else "random", train_seconds, rng, launcher)
        if row["killed"]:
            again = ["--resume"] if row["last_ckpt"] else ["--overwrite"]
            done = subprocess.run(command(args, out, *again), capture_output=True, text=True, env=env(), check=False)
            row["resume_exit"] = done.returncode
            row["resume_error"] = done.stderr.strip().splitlines()[-1] if done.returncode else ""
            if done.returncode == 0:
                resumed = final_state(out)
                row["bit_identical"] = resumed.keys() == reference.keys() and all(
                    torch.equal(resumed[k], reference[k]) for k in reference)
                row["partial_files_left"] = len(partial_files(out))
        rows.append(row)
        print(json.dumps({"kill": i - 1, **row}), flush=True)
        shutil.rmtree(out, ignore_errors=True)

    killed = [r for r in rows if r["killed"]]
    exact = sum(bool(r.get("bit_identical")) for r in killed)
    mid_write = sum(r["partial_file_at_kill"] for r in killed)
    print(f"\n{len(killed)} kills ({mid_write} during a checkpoint write): last.ckpt loadable after "
          f"{sum(r['last_ckpt'] for r in killed)}, resumed bit-identical {exact}/{len(killed)}; "
          f"steps kept: {sorted(r.get('step_kept', 0) for r in killed)}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if exact == len(killed) else 1)


if __name__ == "__main__":
    main()
