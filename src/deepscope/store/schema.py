"""The only place where table and column names of a run database are spelled.

One run = one directory holding ``deepscope.db`` (SQLite, WAL). Statistics use one canonical
field order, :data:`STAT_FIELDS`, end to end: the on-device stacked vector in capture, the columns
of the ``stats`` table, :class:`~deepscope.store.records.StatSeries` and the JSON of the server.
"""

from __future__ import annotations

DB_FILENAME = "deepscope.db"
#: SQLite page size of new runs (large blobs read several times faster than with 4 KiB pages).
PAGE_SIZE = 65536

#: Bumped when a reader of an older version could misread the file. A reader refuses newer files.
SCHEMA_VERSION = 1

#: Canonical statistic order. ``count`` is the number of elements; ``nonfinite`` the number of
#: NaN/Inf elements (moments are over finite elements only when ``nonfinite > 0`` is impossible to
#: avoid: they are NaN then); ``zero_frac`` the share of exact zeros; ``dead_frac`` the share of
#: units (channels for >= 4-D outputs, last dim otherwise) that are <= 0 for the whole batch;
#: ``saturated_frac`` the share of elements within 1% of a sigmoid/tanh-like bound;
#: ``update_ratio`` = ||update|| / ||weight|| (kind ``update`` only). Unused fields are NaN.
STAT_FIELDS: tuple[str, ...] = (
    "count",
    "mean",
    "std",
    "min",
    "max",
    "norm",
    "zero_frac",
    "nonfinite",
    "dead_frac",
    "saturated_frac",
    "update_ratio",
)

#: What a statistic row describes. ``weight``/``grad``/``update`` aggregate the layer's own
#: (non-recursive) parameters; ``activation``/``activation_grad`` are the layer's output and its
#: gradient; ``input`` is the root module's input (layer name ``""`` is never used: the root is
#: stored under its name, ``"<root>"`` if it has none).
STAT_KINDS: tuple[str, ...] = ("weight", "grad", "update", "activation", "activation_grad", "input")

ROOT_LAYER = "<root>"

DDL: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tags (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)",
    # Scalars are stored as numpy-encoded chunks (one per tag per flush): 1M points read back in
    # milliseconds, where one row per point costs ~1 s through the sqlite3 module.
    "CREATE TABLE IF NOT EXISTS scalar_chunks (id INTEGER PRIMARY KEY, tag_id INTEGER NOT NULL,"
    " first_step INTEGER NOT NULL, last_step INTEGER NOT NULL, n INTEGER NOT NULL,"
    " steps BLOB NOT NULL, values_ BLOB NOT NULL, walls BLOB NOT NULL, envelope BLOB)",
    "CREATE INDEX IF NOT EXISTS scalar_chunks_tag ON scalar_chunks (tag_id, first_step)",
    # Chunks of a tag in write order without sorting their blobs (last write wins).
    "CREATE INDEX IF NOT EXISTS scalar_chunks_tag_id ON scalar_chunks (tag_id, id)",
    "CREATE TABLE IF NOT EXISTS layers (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
    " type TEXT NOT NULL, family TEXT NOT NULL, ord INTEGER NOT NULL, num_params INTEGER NOT NULL,"
    " trainable_params INTEGER NOT NULL, params TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS stats (layer_id INTEGER NOT NULL, kind TEXT NOT NULL,"
    " step INTEGER NOT NULL, "
    + ", ".join(f"{f} REAL" for f in STAT_FIELDS)
    + ", PRIMARY KEY (kind, layer_id, step)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS histograms (layer_id INTEGER NOT NULL, kind TEXT NOT NULL,"
    " step INTEGER NOT NULL, lo REAL NOT NULL, hi REAL NOT NULL, counts BLOB NOT NULL,"
    " PRIMARY KEY (kind, layer_id, step)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS graph (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS findings (id INTEGER PRIMARY KEY, source TEXT NOT NULL,"
    " code TEXT NOT NULL, severity TEXT NOT NULL, layer TEXT, step INTEGER, message TEXT NOT NULL,"
    " suggestion TEXT NOT NULL, evidence TEXT NOT NULL, wall REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, step INTEGER, kind TEXT NOT NULL,"
    " layer TEXT, data TEXT NOT NULL, wall REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS artifacts (id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    " kind TEXT NOT NULL, step INTEGER, wall REAL NOT NULL, data TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS artifact_blobs (artifact_id INTEGER NOT NULL, key TEXT NOT NULL,"
    " mime TEXT NOT NULL, bytes BLOB NOT NULL, PRIMARY KEY (artifact_id, key))",
)

#: Parts of a run with their own data version (``meta.versions``), so a cached answer about one
#: part survives writes to another (a live run logs scalars every second, statistics rarely).
VERSION_PARTS: tuple[str, ...] = ("scalars", "stats", "histograms", "other")
#: Which parts a writer operation changes (anything unlisted changes ``other``).
OP_PARTS: dict[str, tuple[str, ...]] = {
    "scalars": ("scalars",),
    "scalar_arrays": ("scalars",),
    "stats": ("stats",),
    "hists": ("histograms",),
    "layers": ("stats", "histograms", "other"),
    "transformer": ("stats",),
}

#: Per-head attention statistics of a sampled step (``head_stats``), in this order end to end.
#: Entropies in nats over the queries that see at least two keys; ``entropy_min`` over those that
#: see at least half of the most any query sees (a causal mask gives early queries few keys);
#: ``max_weight`` and ``first_share`` (weight on key 0, the attention sink) are means over the
#: same queries; ``max_logit`` is the largest |q.k| x scale over unmasked pairs; ``uniform_entropy``
#: is the entropy of uniform attention over the same keys (the ceiling of ``entropy_mean``).
HEAD_FIELDS: tuple[str, ...] = (
    "entropy_mean",
    "entropy_min",
    "max_weight",
    "first_share",
    "max_logit",
    "uniform_entropy",
)

#: Per-block residual-stream statistics (``block_stats``): mean per-token L2 norm of the block's
#: output, the largest |activation|, the median |activation|, their ratio (outlier features) and
#: the channel (last-dimension index) of the largest one.
BLOCK_FIELDS: tuple[str, ...] = ("norm", "max_abs", "median_abs", "outlier_ratio", "channel")

#: Output-logit statistics per sampled step (``output_stats``): the largest logit, the mean logit
#: (the common-mode part that cross-entropy cannot see), the log-partition
#: ``z = logsumexp(logits)`` over positions: mean, min, max and mean of ``z**2`` (what a z-loss
#: penalises), and ``width``, the number of logits per position (the vocabulary of an LM head).
OUTPUT_FIELDS: tuple[str, ...] = ("max_logit", "logit_mean", "lse_mean", "lse_min", "lse_max",
                                  "lse_sq_mean", "width")

#: Tables of the transformer capture, created with the others; runs written before them simply
#: lack them (readers say "not recorded").
TRANSFORMER_DDL: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS head_stats (module TEXT NOT NULL, step INTEGER NOT NULL,"
    " head INTEGER NOT NULL, " + ", ".join(f"{f} REAL" for f in HEAD_FIELDS)
    + ", PRIMARY KEY (module, step, head)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS block_stats (block TEXT NOT NULL, step INTEGER NOT NULL, "
    + ", ".join(f"{f} REAL" for f in BLOCK_FIELDS) + ", PRIMARY KEY (block, step)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS output_stats (watch TEXT NOT NULL, step INTEGER NOT NULL, "
    + ", ".join(f"{f} REAL" for f in OUTPUT_FIELDS) + ", PRIMARY KEY (watch, step)) WITHOUT ROWID",
    # Attention probabilities of the probe batch's first sequence: (heads, queries, keys) float16.
    "CREATE TABLE IF NOT EXISTS attention_patterns (module TEXT NOT NULL, step INTEGER NOT NULL,"
    " heads INTEGER NOT NULL, queries INTEGER NOT NULL, keys INTEGER NOT NULL, probs BLOB NOT NULL,"
    " PRIMARY KEY (module, step)) WITHOUT ROWID",
)

DDL = DDL + TRANSFORMER_DDL

#: Scalar chunk encodings (little-endian, fixed; never pickle).
STEP_DTYPE = "<i8"
VALUE_DTYPE = "<f8"
WALL_DTYPE = "<f8"
HIST_DTYPE = "<i8"
PATTERN_DTYPE = "<f2"
