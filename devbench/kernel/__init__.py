"""Guest kernels for devbench: the config fragment devbench needs (ANON_VMA_NAME, perf, QEMU boot
essentials), reading and checking kernel configs, and a cached build from Debian's
linux-source package."""

from __future__ import annotations

from .build import KernelBuild, cache_root, ensure_kernel, find_source, kernel_path
from .errors import KernelError
from .fragment import ARCHES, REQUIRED, Arch, Option, build_settings, fragment_text, required
from .kconfig import Finding, check_config, extract_ikconfig, find_config, guess_arch, parse_config

__all__ = [
    "ARCHES", "REQUIRED", "Arch", "Finding", "KernelBuild", "KernelError", "Option", "build_settings",
    "cache_root", "check_config", "ensure_kernel", "extract_ikconfig", "find_config", "find_source",
    "fragment_text", "guess_arch", "kernel_path", "parse_config", "required",
]
