"""Independent check of `mlo monitor --json` against scipy/numpy (Evidently's formulas).

Usage: scipy_check.py gen DIR SEED NREF NCUR   -> writes DIR/ref.csv, DIR/cur.csv
       scipy_check.py check DIR METHOD=JSONFILE... -> compares drift scores, exit 1 on mismatch
"""
import json
import math
import sys
import warnings

import numpy as np
from scipy import stats
from scipy.spatial import distance

warnings.simplefilter("ignore")
NUM = ["n_norm", "n_shift", "n_ties", "n_small", "n_const", "n_big", "n_miss"]
CAT = ["c_multi", "c_bin"]


def gen(d, seed, nref, ncur):
    rng = np.random.default_rng(int(seed))
    for name, n, shift in (("ref", int(nref), 0.0), ("cur", int(ncur), 1.0)):
        cols = {
            "n_norm": rng.normal(0, 1, n),
            "n_shift": rng.normal(0.3 * shift, 1 + 0.2 * shift, n),
            "n_ties": np.round(rng.gamma(2, 2, n) + shift * 0.5, 1),
            "n_small": rng.integers(0, 4 + int(shift), n),
            "c_multi": rng.choice(["a", "b", "c", "d"] + (["e"] if shift else []), n),
            "c_bin": rng.choice(["yes", "no"], n, p=[0.3 + 0.1 * shift, 0.7 - 0.1 * shift]),
            # a constant, a large offset (t-test precision), about 10% missing values
            "n_const": np.full(n, 3.0),
            "n_big": 1e9 + rng.normal(0.05 * shift, 1, n),
            "n_miss": np.where(rng.random(n) < 0.1, np.nan, rng.normal(0.2 * shift, 1, n)),
        }
        with open(f"{d}/{name}.csv", "w") as f:
            f.write(",".join(cols) + "\n")
            for i in range(n):
                f.write(",".join(cell(c, cols[c][i]) for c in cols) + "\n")


def cell(name, v):
    if not name.startswith("n_") or name == "n_small":
        return str(v)
    return "" if math.isnan(v) else repr(float(v))


def load(d, name):
    cols = {}
    with open(f"{d}/{name}.csv") as f:
        header = f.readline().strip().split(",")
        rows = [line.strip().split(",") for line in f]
    for i, h in enumerate(header):
        vals = [r[i] for r in rows]
        # Evidently drops missing values before every stattest
        cols[h] = np.array([float(v) for v in vals if v != ""]) if h.startswith("n_") else np.array(vals)
    return cols


def binned(r, c, numeric, feel_zeroes):
    # Evidently get_binned_data
    if numeric and len(np.unique(r)) > 20:
        bins = np.histogram_bin_edges(np.concatenate([r, c]), bins="sturges")
        rp = np.histogram(r, bins)[0] / len(r)
        cp = np.histogram(c, bins)[0] / len(c)
    else:
        keys = sorted(set(r) | set(c))
        rp = np.array([np.sum(r == k) / len(r) for k in keys])
        cp = np.array([np.sum(c == k) / len(c) for k in keys])
    if feel_zeroes:
        for p in (rp, cp):
            m = min(p[p != 0])
            np.place(p, p == 0, m / 10**6 if m <= 0.0001 else 0.0001)
    return rp, cp


def evidently_mmd(r, c):
    """Evidently's mmd_stattest.py written out: RBF kernel, sigma = sqrt(0.5 *
    median squared reference distance) (numpy percentile "nearest"), zeroed
    diagonal, 100 permutations. Evidently's generator is unseeded; mlo draws
    numpy's permutations after np.random.seed(0) with each side sorted, so the
    same is done here and the p-value must match exactly."""
    x, y = np.sort(r).reshape(-1, 1), np.sort(c).reshape(-1, 1)

    def dist(a, b):
        return (b**2).T - 2 * np.dot(a, b.T) + a**2

    d = dist(x, x)
    sigma = (0.5 * np.percentile(d.flatten(), 50, method="nearest")) ** 0.5
    sigma = sigma if sigma != 0 else 0.5**0.5
    g = 1.0 / (2.0 * sigma**2)
    k = np.block([[np.exp(-g * d), np.exp(-g * dist(x, y))], [np.exp(-g * dist(x, y)).T, np.exp(-g * dist(y, y))]])
    k = k - np.diag(np.diagonal(k))
    nx, ny = len(x), len(y)

    def mmd(k):
        return (k[:nx, :nx].sum() / (nx * (nx - 1)) + k[nx:, nx:].sum() / (ny * (ny - 1))
                - 2.0 * k[nx:, :nx].mean())

    obs = mmd(k)
    np.random.seed(0)
    perms = []
    for _ in range(100):
        i = np.random.permutation(nx + ny)
        perms.append(mmd(k[i][:, i]))
    return float(np.mean(obs <= np.array(perms))), obs


def expected(method, r, c, numeric):
    if method == "ks":
        return stats.ks_2samp(r, c)[1]
    if method == "wasserstein":
        return stats.wasserstein_distance(r, c) / max(np.std(r), 0.001)
    if method == "energy":
        return stats.energy_distance(r, c)
    if method == "anderson":
        return stats.anderson_ksamp([r, c])[2]
    if method == "cramer_von_mises":
        return stats.cramervonmises_2samp(r, c).pvalue
    if method == "mannw":
        return stats.mannwhitneyu(r, c, alternative="less")[1]
    if method == "es":
        # Evidently refuses a zero IQR; scipy needs 5 values a side
        if len(r) < 5 or len(c) < 5 or stats.iqr(np.hstack((r, c))) == 0:
            return float("nan")
        return stats.epps_singleton_2samp(r, c)[1]
    if method == "empirical_mmd":
        return evidently_mmd(r, c)[0]
    if method == "t_test":
        return stats.ttest_ind(r, c)[1]
    if method in ("psi", "kl_div", "jensenshannon"):
        rp, cp = binned(r, c, numeric, method != "jensenshannon")
        if method == "psi":
            return float(np.sum((rp - cp) * np.log(rp / cp)))
        if method == "kl_div":
            return stats.entropy(rp, cp)
        return distance.jensenshannon(rp, cp)  # natural log: Evidently passes base=None
    if method == "hellinger":
        if not numeric:
            keys = set(r) | set(c)
            bc = sum(math.sqrt(np.mean(r == k) * np.mean(c == k)) for k in keys)
            return math.sqrt(1 - min(max(bc, 0), 1))
        keys = np.unique(np.concatenate([r, c]))
        bins = np.histogram_bin_edges(keys, bins="sturges")
        h1 = np.histogram(r, bins=bins, density=True)[0]
        h2 = np.histogram(c, bins=bins, density=True)[0]
        bw = (max(bins) - min(bins)) / (len(bins) - 1)
        bc = sum(math.sqrt(h1[i] * h2[i]) * bw for i in range(len(h1)))
        return math.sqrt(1 - min(max(bc, 0), 1))
    keys = sorted(set(r) | set(c))
    rc = np.array([np.sum(r == k) for k in keys], dtype=float)
    cc = np.array([np.sum(c == k) for k in keys], dtype=float)
    if method == "chisquare":
        return stats.chisquare(cc, rc * len(c) / len(r))[1]
    if method == "g_test":
        return stats.power_divergence(cc, rc * len(c) / len(r), lambda_="log-likelihood")[1]
    if method == "z":
        n1, n2 = len(r), len(c)
        p1, p2 = np.mean(r != keys[0]), np.mean(c != keys[0])
        P = (p1 * n1 + p2 * n2) / (n1 + n2)
        z = (p1 - p2) / np.sqrt(P * (1 - P) * (1 / n1 + 1 / n2))
        return 2 * (1 - stats.norm.cdf(abs(z)))
    if method == "fisher_exact":
        return stats.fisher_exact([[cc[1], cc[0]], [rc[1], rc[0]]])[1]
    if method == "tvd":
        return None  # permutation p-value: seeded, not numpy's RNG (checked for range only)
    raise SystemExit("unknown method " + method)


def check_all(d, pairs):
    ref, cur = load(d, "ref"), load(d, "cur")
    bad = 0
    for pair in pairs:
        method, jsonfile = pair.split("=", 1)
        bad |= check(ref, cur, method, jsonfile)
    return bad


def check(ref, cur, method, jsonfile):
    res = json.load(open(jsonfile))
    bad = 0
    seen = 0
    for m in res["metrics"]:
        if m["metric"] != "ColumnDriftMetric":
            continue
        r = m["result"]
        col = r["column_name"]
        got = r["drift_score"]
        numeric = col.startswith("n_") and col != "n_small"  # n_small: integers, <= 5 values: categorical
        assert r["column_type"] == ("num" if numeric else "cat"), (col, r["column_type"])
        if method == "empirical_mmd":  # one O(n^2) computation gives both numbers
            exp, stat = evidently_mmd(ref[col], cur[col])
        else:
            exp = expected(method, ref[col], cur[col], numeric)
        seen += 1
        if exp is None:
            ok = got is not None and 0 <= got <= 1
        else:
            exp = float(exp)
            # 1e-6 relative, with an absolute floor for p-values that underflow to ~0
            ok = got is not None and (abs(got - exp) <= 1e-6 * abs(exp) or abs(got - exp) <= 1e-12)
            if math.isnan(exp):  # undefined in scipy: mlo reports no score
                ok = got is None
        if method == "empirical_mmd" and exp is not None and not math.isnan(exp):
            got_stat = r.get("statistic")
            stat_ok = got_stat is not None and abs(got_stat - stat) <= 1e-9 * max(abs(stat), 1e-6)
            print(f"{'ok  ' if stat_ok else 'BAD '} mmd statistic     {col:8s} mlo={got_stat!r} numpy={stat!r}")
            ok = ok and stat_ok
        if not ok:
            bad += 1
        print(f"{'ok  ' if ok else 'BAD '} {method:17s} {col:8s} mlo={got!r} scipy={exp!r}")
    if seen == 0:
        print("no columns checked")
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(*sys.argv[2:6])
    else:
        sys.exit(check_all(sys.argv[2], sys.argv[3:]))
