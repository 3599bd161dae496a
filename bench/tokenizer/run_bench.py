#!/usr/bin/env python3
"""Encoding speed: tessera's tokenizer against Hugging Face `tokenizers` (Rust) on the same text, same machine.

Builds a few MB of mixed text (code, English prose, CJK, emoji; fixed seed), compiles encode_driver.cc against
a tessera build, and times both encoders single-threaded on it, as one string ("whole") and as one encode per
document ("docs"). Each time is the best of --repeats runs after one warm-up run. Prints a table and writes JSON
with the machine, the commit and the command.

  python3 -m venv /tmp/tok-venv && /tmp/tok-venv/bin/pip install -r bench/tokenizer/requirements.txt
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && ninja -C build tessera_core
  /tmp/tok-venv/bin/python bench/tokenizer/run_bench.py --build build [--assets ../shared/assets] [--mb 4]
"""
import argparse
import json
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CJK = ("的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好"
       "都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理"
       "美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏兴")
JA = ["こんにちは", "ありがとうございます", "東京", "日本語", "カタカナ", "ひらがな", "です", "ます", "した", "ください", "学校", "先生"]
KO = ["안녕하세요", "감사합니다", "서울", "한국어", "학교", "선생님", "입니다", "했습니다"]
EMOJI = ["😀", "😂", "🚀", "👍🏽", "❤️", "🇫🇷", "👨\u200d💻", "✅", "🦙", "🙂", "🎉", "🔥", "💡", "🤖", "👩\u200d👩\u200d👧"]
WORDS = ("the of and to in is was for that with as on by at from his her their this which be have had not are but "
         "were an they it one all would there been has more when will who if no out so said what up its about into "
         "than them can only other new some could time these two may then do first any my now such like our over "
         "model server token request latency throughput memory cache batch inference prefill decode attention "
         "kernel thread queue scheduler block prefix stream response client benchmark result measured").split()


def make_corpus(mb: float, seed: int) -> str:
    rnd = random.Random(seed)
    target = int(mb * 1e6)
    code_files = sorted(p for ext in ("*.cc", "*.h", "*.py") for p in (ROOT / "src").rglob(ext))
    code_files += sorted(Path(sys.base_prefix, "lib", f"python{sys.version_info.major}.{sys.version_info.minor}").glob("*.py"))[:200]
    code = [p.read_text(encoding="utf-8", errors="replace") for p in code_files]
    lic_dir = Path("/usr/share/common-licenses")
    prose = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(lic_dir.glob("*")) if p.is_file()] if lic_dir.is_dir() else []

    def english(n):
        out = []
        for _ in range(n):
            s = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(5, 25)))
            out.append(s[0].upper() + s[1:] + rnd.choice([".", ".", ".", "?", "!", ","]) + rnd.choice([" ", " ", "\n"]))
        return "".join(out)

    def cjk(n):
        out = []
        for _ in range(n):
            r = rnd.random()
            if r < 0.6:
                out.append("".join(rnd.choice(CJK) for _ in range(rnd.randint(8, 40))) + rnd.choice(["。", "，", "！", "？", "\n"]))
            elif r < 0.8:
                out.append("".join(rnd.choice(JA) for _ in range(rnd.randint(2, 8))) + "。")
            else:
                out.append(" ".join(rnd.choice(KO) for _ in range(rnd.randint(2, 8))) + ". ")
        return "".join(out)

    def emoji_chat(n):
        return "".join(rnd.choice(WORDS) + " " + rnd.choice(EMOJI) + rnd.choice(["", " ", "  ", "\n", "!! "]) for _ in range(n))

    docs, size = [], 0
    kinds = ["code", "prose", "english", "cjk", "emoji"]
    weights = [0.35, 0.15, 0.2, 0.2, 0.1]
    while size < target:
        k = rnd.choices(kinds, weights)[0]
        if k == "code":
            src = rnd.choice(code)
            start = rnd.randrange(max(1, len(src) - 4000))
            d = src[start:start + rnd.randint(500, 8000)]
        elif k == "prose" and prose:
            src = rnd.choice(prose)
            start = rnd.randrange(max(1, len(src) - 4000))
            d = src[start:start + rnd.randint(500, 6000)]
        elif k == "cjk":
            d = cjk(rnd.randint(10, 80))
        elif k == "emoji":
            d = emoji_chat(rnd.randint(20, 200))
        else:
            d = english(rnd.randint(10, 60))
        docs.append(d)
        size += len(d.encode("utf-8")) + 3
    return "\n\x1e\n".join(docs)


def time_hf(tok, text, mode, repeats):
    docs = text.split("\n\x1e\n") if mode == "docs" else [text]
    best, n = float("inf"), 0
    for r in range(repeats + 1):
        t0 = time.perf_counter()
        n = sum(len(tok.encode(d, add_special_tokens=False).ids) for d in docs)
        s = time.perf_counter() - t0
        if r > 0:
            best = min(best, s)
    return best, n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=str(ROOT / "build"), help="a tessera build directory with libtessera_core.a")
    ap.add_argument("--assets", default=os.environ.get("TESSERA_ASSETS", str(ROOT.parent / "shared" / "assets")))
    ap.add_argument("--tokenizers", default="llama3_1,qwen3,mistral-7b-v0.1")
    ap.add_argument("--mb", type=float, default=4.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="", help="JSON result file (default: print only)")
    args = ap.parse_args()
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one thread each: the comparison is per core
    os.environ["RAYON_NUM_THREADS"] = "1"
    import tokenizers

    work = Path(args.build) / "tokenizer-bench"
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / "corpus.txt"
    text = make_corpus(args.mb, args.seed)
    corpus.write_text(text, encoding="utf-8")
    driver = work / "encode_driver"
    libs = subprocess.run(["pkg-config", "--libs", "libpcre2-8", "libutf8proc"], capture_output=True, text=True,
                          check=True).stdout.split()
    subprocess.run([os.environ.get("CXX", "g++"), "-std=c++20", "-O3", "-I", str(ROOT / "src"),
                    str(ROOT / "bench/tokenizer/encode_driver.cc"), str(Path(args.build) / "libtessera_core.a"),
                    *libs, "-lpthread", "-o", str(driver)], check=True)

    results = []
    for name in args.tokenizers.split(","):
        tj = Path(args.assets) / "tokenizers" / name / "tokenizer.json"
        hf = tokenizers.Tokenizer.from_file(str(tj))
        hf.encode_special_tokens = True  # tessera's default: special tokens in the text are text
        for mode in ("whole", "docs"):
            hf_s, hf_n = time_hf(hf, text, mode, args.repeats)
            out = subprocess.run([str(driver), str(tj.parent), str(corpus), mode, str(args.repeats)],
                                 capture_output=True, text=True, check=True).stdout
            ours = json.loads(out)
            row = {"tokenizer": name, "mode": mode, "mb": round(len(text.encode()) / 1e6, 3),
                   "hf_seconds": round(hf_s, 4), "tessera_seconds": ours["seconds"],
                   "hf_tokens": hf_n, "tessera_tokens": ours["num_tokens"],
                   "hf_mb_per_s": round(len(text.encode()) / 1e6 / hf_s, 2),
                   "tessera_mb_per_s": round(ours["num_bytes"] / 1e6 / ours["seconds"], 2),
                   "speedup": round(hf_s / ours["seconds"], 2)}
            results.append(row)
            print(f"{name:18s} {mode:5s} HF {row['hf_mb_per_s']:7.2f} MB/s  tessera {row['tessera_mb_per_s']:7.2f} MB/s"
                  f"  x{row['speedup']:.2f}  tokens {hf_n} vs {ours['num_tokens']}", flush=True)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    report = {"machine": {"cpu": platform.processor() or platform.machine(), "system": platform.platform(),
                          "cores": os.cpu_count()},
              "commit": commit, "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
              "tokenizers_version": tokenizers.__version__, "results": results}
    try:
        with open("/proc/cpuinfo") as f:
            report["machine"]["cpu"] = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
