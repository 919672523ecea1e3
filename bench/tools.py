"""The outside tools (wrk, hugo, nginx): found, or installed from Debian's packages; and versions."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable
from importlib import metadata

#: tool -> (executable, Debian package)
TOOLS = {"wrk": ("wrk", "wrk"), "hugo": ("hugo", "hugo"), "nginx": ("nginx", "nginx")}
NGINX_PATHS = ("/usr/sbin/nginx",)
LIBRARIES = ("feedgen", "lxml", "python-frontmatter", "PyYAML", "cmarkgfm", "Flask", "Werkzeug", "granian", "gunicorn",
             "APScheduler", "Markdown")


def find_tool(name: str) -> str | None:
    executable = TOOLS[name][0]
    found = shutil.which(executable)
    if found is None and name == "nginx":
        found = next((path for path in NGINX_PATHS if os.access(path, os.X_OK)), None)
    return found


def ensure_tools(names: list[str], say: Callable[[str], None] = print) -> dict[str, str | None]:
    """Path of each tool; missing ones are installed with apt-get when we are root, else reported."""
    missing = [name for name in names if find_tool(name) is None]
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        packages = [TOOLS[name][1] for name in missing]
        say(f"installing {', '.join(packages)} with apt-get")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, capture_output=True)
        result = subprocess.run(["apt-get", "install", "-y", "-qq", *packages], env=env, check=False,
                                capture_output=True, text=True)
        if result.returncode != 0:
            say(f"apt-get install failed: {result.stderr.strip()[-300:]}")
    paths = {name: find_tool(name) for name in names}
    for name, path in paths.items():
        if path is None:
            say(f"{name} is missing and could not be installed: its figures are reported as n/a")
    return paths


def tool_version(name: str, path: str | None) -> str | None:
    if path is None:
        return None
    flag = {"hugo": ["version"], "nginx": ["-v"], "wrk": ["-v"]}[name]
    result = subprocess.run([path, *flag], capture_output=True, text=True, check=False)
    text = (result.stdout + result.stderr).strip().splitlines()
    return text[0] if text else None


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


def machine() -> dict[str, object]:
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "executable": sys.executable,
        "loadavg_at_start": os.getloadavg(),
    }
