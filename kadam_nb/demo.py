"""The demo pipeline: the quick start's three jobs (extract → clean[4] → report).

The same scripts run as local processes and in containers: they only use a POSIX shell, awk,
sort and friends, and find the run's shared work directory in ``$KADAM_WORK``.
"""

from __future__ import annotations

from .facade import Registry

__all__ = ["register_demo"]

EXTRACT = """\
seq 1 1000 | awk '{print $1 "," $1 % 7}' > "$KADAM_WORK/raw.csv"
echo "extract: wrote $(wc -l < "$KADAM_WORK/raw.csv") rows to raw.csv"
"""

CLEAN = """\
i="$AWS_BATCH_JOB_ARRAY_INDEX"
awk -F, -v i="$i" 'NR % 4 == i' "$KADAM_WORK/raw.csv" > "$KADAM_WORK/part-$i.csv"
echo "clean[$i]: shard $i has $(wc -l < "$KADAM_WORK/part-$i.csv") rows"
"""

REPORT = """\
echo "report: rows per remainder (value mod 7):"
cat "$KADAM_WORK"/part-*.csv | cut -d, -f2 | sort -n | uniq -c
"""


def register_demo(registry: Registry) -> list[str]:
    """Register the demo's definitions; returns their names in pipeline order."""
    registry.register("extract", command=EXTRACT, vcpus=1, memory=256)
    registry.register(
        "clean",
        command=CLEAN,
        vcpus=1,
        memory=256,
        depends_on=["extract"],
        array_size=4,
        retries=2,
        timeout=120,
    )
    registry.register("report", command=REPORT, vcpus=1, memory=256, depends_on=["clean"])
    return ["extract", "clean", "report"]
