"""No secrets in outputs (issue 8, item 7).

Configs take no password or passphrase (refused, the value not echoed). A real run over SSH
with a key, with a secret in the environment, leaves neither the secret nor any part of the
private key in results.json, report.html, the other reports or the command's output.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

import pytest

from tests.lab import runs

SECRET_ENV = "DEVBENCH_SECRET"


def key_body(key: Path) -> list[str]:
    """The base64 lines of an OpenSSH private key, and the decoded key's distinctive parts."""
    lines = [ln.strip() for ln in key.read_text().splitlines() if ln.strip() and not ln.startswith("-----")]
    assert lines and all(len(ln) >= 16 for ln in lines[:-1])
    return lines


def leaks(texts: dict[str, bytes], needles: list[str]) -> list[tuple[str, str]]:
    """(where, needle) for every needle found in the bytes of an output."""
    out = []
    for where, blob in texts.items():
        for n in needles:
            if n.encode() in blob:
                out.append((where, n[:20]))
    return out


def run_folder_texts(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("where,section", [
    ("targets[0].ssh.password", "targets: [{name: b, ssh: {host: 192.0.2.1, password: SECRETVALUE}}]"),
    ("targets[0].ssh.passphrase", "targets: [{name: b, ssh: {host: 192.0.2.1, key: /k, passphrase: SECRETVALUE}}]"),
    ("targets[0].labgrid.password", "targets: [{name: b, labgrid: {place: p, password: SECRETVALUE}}]"),
    ("targets[0].labgrid.passphrase", "targets: [{name: b, labgrid: {place: p, passphrase: SECRETVALUE}}]"),
    ("lab_hosts.rack.password", "lab_hosts: {rack: {host: 192.0.2.1, password: SECRETVALUE}}\n"
                                "targets: [{name: b, adb: {serial: x, via: rack}}]"),
])
def test_configs_take_no_secrets_and_never_echo_them(tmp_path, devbench_cmd, where, section):
    value = "s3cr3t-" + secrets.token_hex(8)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(section.replace("SECRETVALUE", value) + "\nbenchmark: {scenarios: [{name: s, pages: 0}]}\n")
    res = runs.run([*devbench_cmd, "run", str(cfg), "--output", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and f" {where}: secrets are not taken from configs" in res.stderr, res.stderr
    assert value not in res.stderr + res.stdout and not (tmp_path / "out").exists()


@pytest.mark.lab
def test_no_key_or_environment_secret_in_any_output(tmp_path, devbench_cmd, ssh_device, capsys):
    secret = "devbench-secret-" + secrets.token_hex(16)
    body = key_body(ssh_device.key)
    needles = [secret, "".join(body), *body, base64.b64encode(secret.encode()).decode()]
    env = {**os.environ, SECRET_ENV: secret}
    out = tmp_path / "out"
    s = ssh_device
    cfg = tmp_path / "secret.yaml"
    cfg.write_text(f"""\
run: {{name: secrets, output: {out}}}
targets:
  - {{name: board, ssh: {{host: {s.host}, port: {s.port}, user: {s.user}, key: {s.key}, known_hosts: {s.known_hosts}}}}}
benchmark: {{vmas: 256, forks: 8, warmup: 1, batches: 2, scenarios: [{{name: s, pages: 0}}]}}
""")
    outputs: dict[str, bytes] = {}
    res = runs.run([*devbench_cmd, "run", str(cfg)], capture_output=True, env=env, timeout=300)
    outputs["run stdout"], outputs["run stderr"] = res.stdout, res.stderr
    assert b"Traceback" not in res.stderr, res.stderr
    [run_dir] = [p for p in out.iterdir() if not p.is_symlink()]
    for fmt in ("html", "text", "markdown", "json", "csv"):
        rep = runs.run(
            [*devbench_cmd, "report", str(run_dir), "--format", fmt], capture_output=True, env=env, timeout=120
        )
        assert rep.returncode == 0, rep.stderr
        outputs[f"report {fmt} stdout"], outputs[f"report {fmt} stderr"] = rep.stdout, rep.stderr
    outputs.update(run_folder_texts(run_dir))
    assert "results.json" in outputs and "report.html" in outputs
    assert b'"fork_ns"' in outputs["results.json"]  # a real run: samples were taken over SSH with the key
    assert leaks(outputs, needles) == []
    # the check itself finds what it looks for (positive control)
    planted = dict(outputs, planted=outputs["report.html"] + body[1].encode())
    assert leaks(planted, needles) == [("planted", body[1][:20])]
    with capsys.disabled():
        print(f"\n[secrets] {len(outputs)} outputs searched for {len(needles)} secret strings: none found")


@pytest.mark.lab
def test_a_key_with_a_passphrase_is_refused_without_showing_it(tmp_path, devbench_cmd, ssh_device):
    """No passphrase can be given, so an encrypted key cannot be used: one clear error, and
    nothing of the key in it (ssh-agent is the way for such keys)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = tmp_path / "id_encrypted"
    key.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.BestAvailableEncryption(b"correct horse battery staple")))
    key.chmod(0o600)
    s = ssh_device
    cfg = tmp_path / "enc.yaml"
    cfg.write_text(f"""\
run: {{name: enc, output: {tmp_path / 'out'}}}
targets:
  - {{name: board, ssh: {{host: {s.host}, port: {s.port}, user: {s.user}, key: {key}, known_hosts: {s.known_hosts}}}}}
benchmark: {{vmas: 64, forks: 2, batches: 1, warmup: 0, scenarios: [{{name: s, pages: 0}}]}}
""")
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    res = runs.run([*devbench_cmd, "run", str(cfg), "--quiet"], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    [run_dir] = [p for p in (tmp_path / "out").iterdir() if not p.is_symlink()]
    texts = run_folder_texts(run_dir) | {"stderr": res.stderr.encode(), "stdout": res.stdout.encode()}
    assert b"connect-failed" in texts["results.json"]
    assert leaks(texts, key_body(key) + ["correct horse"]) == []
