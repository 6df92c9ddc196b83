#!/usr/bin/env python3
"""Large synthetic corpora for the scale benchmark (scripts/bench_store.sh): a test device, not data.

  make_large_corpus.py manifest --source DIR --clips N --out OUT/cN.jsonl [--base 1000]
      N clips whose audio cycles over the first --base WAVs of DIR (ids r0000000…, every 5th clip 'heard'),
      and OUT/cN.labels.jsonl with synthetic teacher frames (7 classes, a frame every 0.24 s; deterministic).
  make_large_corpus.py repeat-store --base-store B.store --manifest OUT/cN.jsonl
      OUT/cN.jsonl.store/ whose index points clip k at the packed audio of base clip k mod base (the data files
      are symlinked, nothing is decoded): packing real audio 100,000 times would only measure the disk.
Only the standard library is used.
"""
import argparse, json, os, random, sys, wave

CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def manifest(a):
    wavs = sorted(f for f in os.listdir(a.source) if f.lower().endswith(".wav"))[: a.base]
    if not wavs:
        sys.exit(f"{a.source}: no .wav files")
    durations = []
    for f in wavs:
        with wave.open(os.path.join(a.source, f)) as w:
            durations.append(w.getnframes() / w.getframerate())
    base = os.path.splitext(a.out)[0]
    rng = random.Random(0)
    with open(a.out, "w") as m, open(base + ".labels.jsonl", "w") as lab:
        for k in range(a.clips):
            j = k % len(wavs)
            cid = f"r{k:07d}"
            m.write(json.dumps({"id": cid, "speaker": f"spk{j % 40:02d}", "audio": os.path.abspath(os.path.join(a.source, wavs[j])),
                                "split": "heard" if k % 5 == 4 else "train"}) + "\n")
            times = [round(t * 0.24, 2) for t in range(max(1, int(durations[j] / 0.24)))]
            logits = [[round(rng.gauss(0, 2), 3) for _ in CLASSES] for _ in times]
            maxl = [max(f[c] for f in logits) for c in range(len(CLASSES))]
            lab.write(json.dumps({"clip": cid, "source": "synthetic", "teacher": "synthetic", "classes": CLASSES, "times": times,
                                  "logits": logits, "maxLogits": maxl, "framesSampled": len(times), "framesWithoutFace": 0}) + "\n")
    print(f"{a.out}: {a.clips} clips over {len(wavs)} distinct WAVs; labels {base}.labels.jsonl")


def repeat_store(a):
    records = [l.rstrip("\n").split("\t") for l in open(os.path.join(a.base_store, "index.tsv")) if l.strip() and not l.startswith("#")]
    by_audio_order = records  # base store index order = base manifest order
    out = a.manifest + ".store"
    os.makedirs(out, exist_ok=True)
    for f in sorted({r[1] for r in records}):
        link = os.path.join(out, f)
        if not os.path.lexists(link):
            os.symlink(os.path.abspath(os.path.join(a.base_store, f)), link)
    ids = [json.loads(l)["id"] for l in open(a.manifest)]
    with open(os.path.join(out, "index.tsv"), "w") as idx:
        idx.write("# emovox audio store v1\tid\tfile\toffset\tsamples\trate\n")
        for k, cid in enumerate(ids):
            r = by_audio_order[k % len(by_audio_order)]
            idx.write("\t".join([cid] + r[1:]) + "\n")
    print(f"{out}: {len(ids)} index records over {len(records)} packed clips (symlinked data files)")


p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
sub = p.add_subparsers(dest="cmd", required=True)
m = sub.add_parser("manifest")
m.add_argument("--source", required=True)
m.add_argument("--clips", type=int, required=True)
m.add_argument("--base", type=int, default=1000)
m.add_argument("--out", required=True)
r = sub.add_parser("repeat-store")
r.add_argument("--base-store", required=True)
r.add_argument("--manifest", required=True)
a = p.parse_args()
manifest(a) if a.cmd == "manifest" else repeat_store(a)
