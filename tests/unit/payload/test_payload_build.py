import subprocess

import pytest

from devbench.config import BuildConfig
from devbench.errors import BuildError
from devbench.payload.build import build, compile_command


def test_zig_build_is_cached_by_source_target_and_compiler(tmp_path):
    first = build("x86_64", BuildConfig(), cache=tmp_path)
    assert first.path.exists() and first.compiler.startswith("zig ")
    mtime = first.path.stat().st_mtime_ns
    again = build("x86_64", BuildConfig(), cache=tmp_path)
    assert again.path == first.path and again.path.stat().st_mtime_ns == mtime and again.sha256 == first.sha256
    out = subprocess.run([str(first.path), "--version"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    # statically linked: runs anywhere, no interpreter
    assert b"ld-linux" not in first.path.read_bytes()[:4096]


def test_cross_build_aarch64_is_a_different_binary(tmp_path):
    a = build("aarch64", BuildConfig(), cache=tmp_path)
    x = build("x86_64", BuildConfig(), cache=tmp_path)
    assert a.path != x.path and a.sha256 != x.sha256
    assert a.path.read_bytes()[18] == 0xB7  # ELF e_machine EM_AARCH64


def test_compile_commands_per_compiler():
    src, out = __import__("pathlib").Path("f.c"), __import__("pathlib").Path("o")
    assert compile_command(BuildConfig(), "armv7", out, src)[4:6] == ["-target", "arm-linux-musleabihf"]
    ndk = compile_command(BuildConfig(compiler="ndk", cc="/ndk", android_api=30), "aarch64", out, src)
    assert (
        ndk[0] == "/ndk/toolchains/llvm/prebuilt/linux-x86_64/bin/clang"
        and ndk[1] == "--target=aarch64-linux-android30"
    )
    assert compile_command(BuildConfig(compiler="gcc"), "riscv64", out, src)[0] in ("riscv64-linux-gnu-gcc",)


def test_missing_compiler_is_a_clear_error(tmp_path):
    with pytest.raises(BuildError) as info:
        build("x86_64", BuildConfig(compiler="cc", cc="/nonexistent/cc"), cache=tmp_path)
    assert "/nonexistent/cc" in str(info.value)


def test_a_test_build_gets_its_defines_its_own_cache_entry_and_says_so(tmp_path):
    """build: {defines: [...]} (the QEMU tests' failing-check builds): -D flags on the compiler's
    argument list, another binary and cache entry than the benchmark build, and a compiler
    description that results.json records as a test build."""
    from pathlib import Path

    test_cfg = BuildConfig(defines=("FORKBENCH_TEST_KEEP_NAMES",))
    cmd = compile_command(test_cfg, "x86_64", Path("o"), Path("f.c"))
    assert "-DFORKBENCH_TEST_KEEP_NAMES" in cmd and cmd.index("-DFORKBENCH_TEST_KEEP_NAMES") < cmd.index("-o")
    plain, test = build("x86_64", BuildConfig(), cache=tmp_path), build("x86_64", test_cfg, cache=tmp_path)
    assert plain.path.parent != test.path.parent and plain.sha256 != test.sha256
    assert "test build" not in plain.compiler and test.compiler.endswith("(test build: -DFORKBENCH_TEST_KEEP_NAMES)")
    out = subprocess.run([str(test.path), "--vmas", "4", "--pages", "0", "--name-length", "9", "--forks", "1",
                          "--arm", "unnamed"], capture_output=True, text=True, timeout=30)
    assert '"test_build":true' in out.stdout.splitlines()[0]


def test_two_builds_of_one_payload_at_once_compile_it_once(tmp_path):
    """A QEMU target builds the payload early, beside its kernel; the run's own build after the
    probe may start while that one still compiles: it waits for it (the cache entry's lock)
    and finds the binary, instead of compiling a second time."""
    import threading

    calls = tmp_path / "calls"
    cc = tmp_path / "slowcc"
    # counts compiles (not `--version`, the compiler's identity), each slow enough to overlap
    cc.write_text(f'#!/bin/sh\ncase " $* " in *" -o "*) echo x >> {calls}; sleep 1;; esac\nexec cc "$@"\n')
    cc.chmod(0o755)
    cfg = BuildConfig(compiler="cc", cc=str(cc))
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(build("x86_64", cfg, cache=tmp_path / "cache")))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 2 and got[0] == got[1]
    assert calls.read_text().count("x") == 1
