#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets (fuzz/README.md) into OUT/<target>/.

Seeds come from the committed fixtures (tests/fixtures) and, for the tokenizers, from the first
merges of the golden CLIP files under ../shared/data/golden when they exist; they are written only
into the git-ignored build folder, never into the tree. The multi-file targets take their parts cut
at SEP (fuzz/fuzz_files.h). Standard library only.

    make_seeds.py OUT [SHARED_DATA_DIR]
"""
import gzip
import json
import os
import shutil
import struct
import sys

SEP = b"\n--avgzsl-fuzz-part--\n"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
MAX_SEED = 64 * 1024


def write(out, target, name, data):
    folder = os.path.join(out, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def safetensors(tensors, metadata=None):
    """tensors: name -> (dtype, shape, raw bytes)."""
    header, blob = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(raw)]}
        blob += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + blob


def f32(rows):
    flat = [v for row in rows for v in row]
    return ("F32", [len(rows), len(rows[0])], struct.pack("<%df" % len(flat), *flat))


def i64(values):
    return ("I64", [len(values)], struct.pack("<%dq" % len(values), *values))


def safetensors_seeds(out):
    for folder, _, files in os.walk(FIXTURES):
        for name in sorted(files):
            path = os.path.join(folder, name)
            if name.endswith(".safetensors") and os.path.getsize(path) <= MAX_SEED:
                shutil.copyfile(path, os.path.join(out, "safetensors", "fixture_" + name))
    sizes = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
    write(out, "safetensors", "all_dtypes", safetensors(
        {"t_" + d.lower(): (d, [2, 1], bytes(range(1, 2 * n + 1))) for d, n in sizes.items()},
        metadata={"format": "pt"}))
    write(out, "safetensors", "empty_header", safetensors({}))
    write(out, "safetensors", "zero_size", safetensors({"z": ("F32", [0, 3], b""), "s": ("I64", [], b"\0" * 8)}))


def dataset_parts(visual=True, audio=True, clip=True, clap=True):
    classes = ["ApplyEyeMakeup", "Basketball", "CliffDiving", "Drumming"]
    manifest = {
        "format": "avgzsl-dataset", "format_version": 1, "name": "tiny", "description": "fuzz seed",
        "features": {}, "class_text": {}, "class_text_file": "class_text.safetensors",
        "classes": [{"name": c, "display_name": c.lower()} for c in classes],
        "class_splits": {
            "stage_1_train": ["ApplyEyeMakeup"], "stage_1_val_seen": ["ApplyEyeMakeup"],
            "stage_1_val_unseen": ["Basketball"], "stage_2_train": ["ApplyEyeMakeup", "Basketball"],
            "stage_2_test_seen": ["ApplyEyeMakeup", "Basketball"], "stage_2_test_unseen": ["CliffDiving", "Drumming"]},
        "video_splits": {},
    }
    if visual:
        manifest["features"]["visual"] = 2
    if audio:
        manifest["features"]["audio"] = 3
    if clip:
        manifest["class_text"]["clip"] = 2
    if clap:
        manifest["class_text"]["clap"] = 1
    text = {}
    if clip:
        text["clip"] = f32([[1, 0], [0, 1], [1, 1], [0.5, -1]])
    if clap:
        text["clap"] = f32([[1], [2], [3], [-4]])
    labels = {"stage_1_train": [0, 0], "stage_1_val_seen": [0], "stage_1_val_unseen": [1],
              "stage_2_test_seen": [0, 1], "stage_2_test_unseen": [2, 3, 2]}
    parts = [None, safetensors(text)]
    for split in ["stage_1_train", "stage_1_val_seen", "stage_1_val_unseen", "stage_2_test_seen", "stage_2_test_unseen"]:
        n = len(labels[split])
        manifest["video_splits"][split] = {"file": "videos/%s.safetensors" % split,
                                           "video_ids": ["%s_v%d" % (split, i) for i in range(n)]}
        tensors = {}
        if visual:
            tensors["visual"] = f32([[i, 0.25] for i in range(n)])
        if audio:
            tensors["audio"] = f32([[i, 1, -1] for i in range(n)])
        tensors["label"] = i64(labels[split])
        parts.append(safetensors(tensors))
    parts[0] = json.dumps(manifest, indent=1).encode()
    return SEP.join(parts)


def manifest_seeds(out):
    write(out, "manifest", "full", dataset_parts())
    write(out, "manifest", "visual_clip_only", dataset_parts(audio=False, clap=False))
    write(out, "manifest", "audio_clap_only", dataset_parts(visual=False, clip=False))


def csv_seeds(out):
    n = 0
    for folder, _, files in os.walk(FIXTURES):
        for name in sorted(files):
            path = os.path.join(folder, name)
            if name.endswith(".csv") and os.path.getsize(path) <= MAX_SEED:
                n += 1
                write(out, "csv", "fixture_%d_%s" % (n, name), open(path, "rb").read())
    write(out, "csv", "video_list", b"path,label\nvideos/a.mp4,Basketball\n/abs/b.avi,\"alligators, crocodiles hissing\"\n"
          b"\"q\"\"uoted.mkv\",Drumming\r\n")
    write(out, "csv", "bom_crlf", b"\xef\xbb\xbfpath,label,extra\r\nx.mp4,y,\"multi\nline\"\r\n")


def byte_symbols():
    """GPT-2's bytes_to_unicode, in its order."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def tokenizer_seeds(out, shared):
    golden = os.path.join(shared, "golden", "clip")
    merges = []
    hf_merges = os.path.join(golden, "hf_clip_vit_base_patch32", "merges.txt")
    if os.path.exists(hf_merges):
        with open(hf_merges, encoding="utf-8") as f:
            merges = [tuple(line.split()) for line in f.read().splitlines()[1:301] if line.strip()]
    else:
        merges = [("i", "n"), ("t", "h"), ("a", "</w>"), ("t", "</w>"), ("th", "e</w>"), ("c", "at</w>"), ("a", "t</w>")]
    symbols = byte_symbols()
    # CLIP (Hugging Face layout): bytes, bytes + </w>, one token per merge, the two specials.
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    clip_vocab = {}
    for i, t in enumerate(vocab):
        clip_vocab[t] = i
    merges_txt = "#version: 0.2\n" + "".join("%s %s\n" % m for m in merges)
    texts = ["a photo of a cat.", "Hello &amp; WORLD  <|endoftext|> caf\u00e9 \U0001F600 it's 123"]
    for k, text in enumerate(texts):
        write(out, "tokenizer", "clip_hf_%d" % k, bytes([0 | (16 << 3)]) + SEP.join(
            [json.dumps(clip_vocab, ensure_ascii=k == 0).encode(), merges_txt.encode(), text.encode()]))
        write(out, "tokenizer", "clip_openai_%d" % k, bytes([1 | (8 << 3)]) + SEP.join(
            [('"bpe_simple_vocab_16e6.txt#version: 0.2\n' + "".join("%s %s\n" % m for m in merges)).encode(), text.encode()]))
    # RoBERTa: <s> <pad> </s> <unk> = 0 1 2 3, the byte symbols, merges with the leading space as "Ġ".
    rmerges = [("\u0120", "t"), ("h", "e"), ("\u0120t", "he"), ("\u0120", "d"), ("o", "g"), ("\u0120d", "og"), ("a", "r")]
    rvocab = ["<s>", "<pad>", "</s>", "<unk>"] + symbols + ["".join(m) for m in rmerges] + ["<mask>"]
    rvocab_json = json.dumps({t: i for i, t in enumerate(rvocab)}).encode()
    rmerges_txt = ("#version: 0.2\n" + "".join("%s %s\n" % m for m in rmerges)).encode()
    write(out, "tokenizer", "roberta_0", bytes([2 | (10 << 3)]) + SEP.join([rvocab_json, rmerges_txt, b"the dog <mask> barks"]))
    write(out, "tokenizer", "roberta_1", bytes([2 | 4 | (31 << 3)]) + SEP.join([rvocab_json, rmerges_txt, "Caf\u00e9   the\tdog\u3000!".encode()]))
    # WordPiece: bert-base-uncased's specials first, then words and ## pieces.
    words = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "dog", "bark", "##s", "##ing", "cafe",
             "!", ",", "un", "##aff", "##able", "\u4e2d"]
    vocab_txt = ("\n".join(words) + "\n").encode()
    write(out, "tokenizer", "wordpiece_0", bytes([3 | (12 << 3)]) + SEP.join([vocab_txt, b"The dog barks! [MASK] unaffable"]))
    write(out, "tokenizer", "wordpiece_1", bytes([3 | 4 | (30 << 3)]) + SEP.join([vocab_txt, "Caf\u00e9 \u4e2d\u6587 barking, the".encode()]))


def main():
    out = sys.argv[1]
    shared = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "..", "shared", "data")
    for target in ["safetensors", "manifest", "csv", "tokenizer"]:
        os.makedirs(os.path.join(out, target), exist_ok=True)
    safetensors_seeds(out)
    manifest_seeds(out)
    csv_seeds(out)
    tokenizer_seeds(out, shared)


if __name__ == "__main__":
    main()
