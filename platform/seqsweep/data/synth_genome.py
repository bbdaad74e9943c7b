"""A synthetic genome with peaks, the way ChIP-seq data arrive: genome.fa, peaks.narrowPeak, dnase.bigWig.

    synth_genome("data/generated/peaks")   # 8 contigs, 24 Mb; ~1,500 AP-1 sites bound, called as narrowPeaks

The genome is a patchwork of 100 kb isochores of GC content 0.35 to 0.55 (as mammalian genomes vary), with
a run of N at each contig's start (an unassembled telomere). Bound sites are JASPAR MA0491.1 (JUND) sites,
planted preferentially in GC-rich isochores, so a model that learns GC content alone separates peaks from
unmatched negatives, and only one that learns the motif separates them from GC-matched ones. Each bound site
becomes a MACS2-style narrowPeak row (a peak of 200-600 bp, summit near the site), and the bigWig's signal
rises around it; unbound decoy sites (one core letter mutated) and open regions without a peak add noise.
Same arguments -> byte-identical files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seqsweep.data import motifs

CONTIGS = 8
CONTIG_BP = 3_000_000
ISOCHORE = 100_000
TELOMERE_N = 20_000
SITES = 1_500
DECOYS = 1_500
BIN = 50  # bigWig bin


def _write_fasta(path: Path, names: list[str], seqs: list[np.ndarray]) -> None:
    letters = np.frombuffer(b"ACGTN", dtype=np.uint8)
    with open(path, "wb") as f:
        for name, codes in zip(names, seqs):
            f.write(f">{name}\n".encode())
            body = letters[codes]
            n = len(body)
            full = n // 60
            lines = np.full((full, 61), ord("\n"), dtype=np.uint8)
            lines[:, :60] = body[: full * 60].reshape(full, 60)
            f.write(lines.tobytes())
            if n % 60:
                f.write(body[full * 60 :].tobytes() + b"\n")


def _background(rng: np.random.Generator, contigs: int, contig_bp: int) -> tuple[list[str], list[np.ndarray], list[np.ndarray]]:
    """Contig names, their codes (0..3, 4 = N) and the GC content of each isochore."""
    names = [f"chr{i + 1}" for i in range(contigs)]
    seqs, gc_of = [], []
    for _ in names:
        blocks = contig_bp // ISOCHORE
        gc = rng.uniform(0.35, 0.55, blocks)
        p = np.repeat(np.stack([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2], 1), ISOCHORE, axis=0)  # (bp, 4)
        u = rng.random(contig_bp)[:, None]
        codes = (u > np.cumsum(p, 1)).sum(1).astype(np.uint8)  # inverse CDF per position
        codes[:TELOMERE_N] = 4
        seqs.append(codes)
        gc_of.append(gc)
    return names, seqs, gc_of


def _narrowpeak(rng: np.random.Generator, name: str, centre: int, contig_bp: int, k: int, widths=(200, 600)) -> str:
    """One MACS2-style narrowPeak row around a bound site's centre."""
    width = int(rng.integers(*widths))
    summit = centre + int(rng.integers(-20, 21))
    start = max(0, summit - int(rng.integers(width // 4, 3 * width // 4)))
    end = min(contig_bp, start + width)
    signal = float(rng.uniform(5, 50))
    return (f"{name}\t{start}\t{end}\tpeak_{k}\t{int(rng.integers(100, 1000))}\t.\t{signal:.2f}\t{signal / 3:.2f}\t"
            f"{signal / 4:.2f}\t{summit - start}\n")


#: the motifs of the multi-target set: each a target of its own, and a second target bound only next to AP-1
TARGET_MOTIFS = ("CRE", "CEBP", "EBOX", "EBOX_T", "GATA", "SP1", "CTCF", "REST", "YY1", "DR1", "NRF1", "ETS", "CARG",
                 "FOX", "SOX", "OCT", "TP53", "MEF2", "NFKB", "RUNX", "TEAD", "TATA", "CCAAT", "AICE", "TAL1_GATA",
                 "OCT_SOX")


def synth_targets(out_dir: str | Path, *, seed: int = 0, contigs: int = CONTIGS, contig_bp: int = CONTIG_BP,
                  sites: int = 400) -> dict[str, Path]:
    """A DeepSEA-style set: genome.fa and peaks/<TARGET>.narrowPeak for 53 targets. Sites lie 800 bp apart or more.
    For each motif of
    TARGET_MOTIFS, `sites` sites are planted; target <MOTIF> has a peak on each, target <MOTIF>_AP1 only on those
    with an AP-1 site planted 30-120 bp away (co-binding, learnable from sequence only with both sites in view);
    target AP1 has a peak on every AP-1 site. Same arguments -> byte-identical files."""
    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    (out / "peaks").mkdir(parents=True, exist_ok=True)
    names, seqs, _ = _background(rng, contigs, contig_bp)
    ap1 = motifs.MOTIFS["AP1"]
    taken: set[tuple[int, int]] = set()
    rows: dict[str, list[tuple[int, int]]] = {"AP1": []}

    def free_position() -> tuple[int, int]:
        while True:
            c, pos = int(rng.integers(contigs)), int(rng.integers(TELOMERE_N + 1_000, contig_bp - 1_000))
            if (c, pos // 800) not in taken:
                taken.add((c, pos // 800))
                return c, pos

    def plant(motif, c: int, pos: int) -> None:
        s = motifs.sample(rng, motif, 1)[0]
        if rng.random() < 0.5:
            s = motifs.reverse_complement(s[None])[0]
        keep = s != motifs.KEEP
        seqs[c][pos : pos + len(motif)][keep] = s[keep]

    for name in TARGET_MOTIFS:
        m = motifs.MOTIFS[name]
        rows[name], rows[name + "_AP1"] = [], []
        for i in range(sites):
            c, pos = free_position()
            plant(m, c, pos)
            rows[name].append((c, pos + len(m) // 2))
            if i % 2 == 0:  # half of the sites get an AP-1 partner
                gap = int(rng.integers(30, 121)) * (1 if rng.random() < 0.5 else -1)
                p2 = pos + len(m) + gap if gap > 0 else pos + gap - len(ap1)
                plant(ap1, c, p2)
                rows[name + "_AP1"].append((c, pos + len(m) // 2))
                rows["AP1"].append((c, p2 + len(ap1) // 2))
    _write_fasta(out / "genome.fa", names, seqs)
    for target, centres in rows.items():
        # TF ChIP-seq peaks of 150-300 bp: a window whose central bin a peak covers holds the site
        text = "".join(_narrowpeak(rng, names[c], p, contig_bp, k + 1, widths=(150, 300)) for k, (c, p) in enumerate(sorted(centres)))
        (out / "peaks" / f"{target}.narrowPeak").write_text(text)
    return {"genome": out / "genome.fa", "peaks": out / "peaks"}


def synth_genome(out_dir: str | Path, *, seed: int = 0, contigs: int = CONTIGS, contig_bp: int = CONTIG_BP,
                 sites: int = SITES) -> dict[str, Path]:
    """Write genome.fa, peaks.narrowPeak and dnase.bigWig into `out_dir`; returns their paths."""
    import pyBigWig

    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names, seqs, gc_of = _background(rng, contigs, contig_bp)

    motif = motifs.MOTIFS["AP1"]
    m = len(motif)

    def place(k: int, weight_gc: bool) -> list[tuple[int, int]]:
        """k (contig, position) pairs, spread out, preferring GC-rich isochores when weight_gc."""
        w = np.concatenate([(g - 0.3) ** 2 if weight_gc else np.ones_like(g) for g in gc_of])
        picks = rng.choice(len(w), size=k * 2, p=w / w.sum())
        chosen, used = [], set()
        for b in picks:
            c, blk = divmod(int(b), contig_bp // ISOCHORE)
            pos = blk * ISOCHORE + int(rng.integers(2_000, ISOCHORE - 2_000))
            if pos < TELOMERE_N + 2_000 or (c, pos // 5_000) in used:
                continue
            used.add((c, pos // 5_000))
            chosen.append((c, pos))
            if len(chosen) == k:
                break
        return chosen

    bound = place(sites, weight_gc=True)
    decoys = place(DECOYS, weight_gc=False)
    site_codes = motifs.sample(rng, motif, len(bound) + len(decoys))
    flip = rng.random(len(site_codes)) < 0.5
    site_codes[flip] = motifs.reverse_complement(site_codes[flip])
    core = motif.informative()
    for i, (c, pos) in enumerate(decoys):  # a decoy: one informative letter changed, so it no longer binds
        j = int(core[rng.integers(len(core))])
        s = site_codes[len(bound) + i]
        s[j] = (s[j] + int(rng.integers(1, 4))) % 4
    for (c, pos), s in zip(bound + decoys, site_codes):
        keep = s != motifs.KEEP
        seqs[c][pos : pos + m][keep] = s[keep]

    _write_fasta(out / "genome.fa", names, seqs)

    rows = [_narrowpeak(rng, names[c], pos + m // 2, contig_bp, k + 1) for k, (c, pos) in enumerate(sorted(bound))]
    (out / "peaks.narrowPeak").write_text("".join(rows))

    bw = pyBigWig.open(str(out / "dnase.bigWig"), "w")
    bw.addHeader([(n, contig_bp) for n in names])
    centres = {c: np.array(sorted(p for cc, p in bound if cc == c)) for c in range(contigs)}
    for c, name in enumerate(names):
        bins = np.arange(0, contig_bp, BIN)
        value = rng.gamma(1.0, 0.3, len(bins))
        for p in centres[c]:
            lo, hi = max(0, (p - 500) // BIN), min(len(bins), (p + 500) // BIN)
            value[lo:hi] += rng.uniform(1.5, 4.0) * np.exp(-(((bins[lo:hi] - p) / 250.0) ** 2))
        value[: TELOMERE_N // BIN] = 0.0
        bw.addEntries(name, 0, values=value.astype(np.float64).tolist(), span=BIN, step=BIN)
    bw.close()
    return {"genome": out / "genome.fa", "peaks": out / "peaks.narrowPeak", "signal": out / "dnase.bigWig"}
