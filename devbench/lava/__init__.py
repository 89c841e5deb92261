"""LAVA support: a devbench config as a LAVA job, and LAVA's results back as results.json.

    config + LavaOptions -> job definition + Lava-Test test definition   (job.py, testdef.py)
    on the LAVA device:  sh/devbench-lava.sh runs devbench's plan, one payload invocation per run
                         step, and reports each scenario/arm with lava-test-case (the mean in ms,
                         computed by sh/devbench-mean.awk: POSIX sh and awk, no python there)
    LAVA results YAML + job log -> results.json                        (cases.py, logparse.py,
                                                                         records.py, results.py)

The raw samples. LAVA (V2) has no way for a test to upload a file from the device:
lava-test-case-attach was V1 only, and lava-test-reference records only a URL to data kept
elsewhere. So the test definition prints the payload's JSON Lines into the job log, one
`DEVBENCH-LINE <invocation> <line>` per line (markers.py), and lava-results reads them back from
the log (`lavacli jobs logs --raw JOB`, or /api/v0.2/jobs/JOB/logs/), undoing the dispatcher's
escaping of double quotes. Without the log only the per-case means are left.

`lava_job` and `lava_results` are the entry points for the CLI; validate.py runs LAVA's own
schema validator (Debian's lava-common) on a generated job.
"""

from devbench.lava.job import lava_job
from devbench.lava.results import lava_results

__all__ = ["lava_job", "lava_results"]
