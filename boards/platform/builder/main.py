"""PlatformIO builder for the mcubench firmware, using the system's compilers.

Each board manifest (boards/platform/boards/<board>.json) names a toolchain prefix, a
port folder under firmware/ports/, CPU flags, defines and a linker script. The source
set is the portable firmware plus that one port.

Optional ``build`` keys:
- ``port_libs``: folders under firmware/ports/ shared by several ports (e.g.
  ``["cortex_m"]``); each is compiled and put on the include path after the port.
- ``libc_flags``: C library selection (e.g. ``["--specs=picolibc.specs"]``), passed to
  the compiler, assembler and linker like ``cpu_flags``, but not reported in
  MCB_BUILD_FLAGS (INFO's BUILD_FLAGS), which describes code generation only.

Build variants come from the environment (host/mcubench/build.py sets them, each
variant in a build folder of its own):
- ``MCB_EMBEDDED_MODEL_DIR``: a folder of sources that link a model into flash
  (``mcubench build --model`` writes one); built too, with MCB_EMBEDDED_MODEL defined.
- ``MCB_PROFILE=1``: the per-operator profiler compiled in (MCB_PROFILE defined).
- ``MCB_APP_DIR``: the application folder under firmware/ (default ``app``, the serial
  protocol; ``mlperf_tiny`` speaks the EEMBC / MLPerf Tiny UART protocol instead).
- ``MCB_OPT``: the optimisation flag for everything (default ``-Os``).
"""

import os
import subprocess
import sys

from SCons.Script import Default, DefaultEnvironment  # pylint: disable=import-error

env = DefaultEnvironment()
board = env.BoardConfig()
project_dir = env.subst("$PROJECT_DIR")
firmware_dir = os.path.join(project_dir, "firmware")

toolchain = board.get("build.toolchain")  # e.g. "arm-none-eabi", or "" for the host
port = board.get("build.port")
prefix = f"{toolchain}-" if toolchain else ""


def string_list(key):
    """A manifest key that must be a list of strings (a bare string would be split)."""
    value = board.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        sys.stderr.write(f"Error: board {board.id}: {key} must be a list of strings\n")
        env.Exit(1)
    return list(value)


port_libs = string_list("build.port_libs")
for lib in port_libs:
    if lib == port or not os.path.isdir(os.path.join(firmware_dir, "ports", lib)):
        sys.stderr.write(f"Error: board {board.id}: build.port_libs: no folder "
                         f"firmware/ports/{lib}/ (or it is the port itself)\n")
        env.Exit(1)


def firmware_git_hash():
    """Hash of the last commit touching firmware/, "-dirty" if it has local changes."""
    def git(*args):
        return subprocess.run(["git", "-C", project_dir, *args], capture_output=True,
                              text=True, check=False)
    rev = git("log", "-1", "--format=%h", "--", "firmware").stdout.strip() or "unknown"
    if git("status", "--porcelain", "--", "firmware").stdout.strip():
        rev += "-dirty"
    return rev


app_dir = os.environ.get("MCB_APP_DIR", "") or "app"
if not os.path.isdir(os.path.join(firmware_dir, app_dir)) or "/" in app_dir:
    sys.stderr.write(f"Error: MCB_APP_DIR: no application folder firmware/{app_dir}/\n")
    env.Exit(1)
opt_flag = os.environ.get("MCB_OPT", "") or "-Os"
if opt_flag not in ("-Os", "-O0", "-O1", "-O2", "-O3"):
    sys.stderr.write(f"Error: MCB_OPT: {opt_flag} is not one of -Os -O0 -O1 -O2 -O3\n")
    env.Exit(1)
profile = os.environ.get("MCB_PROFILE", "") == "1"

cpu_flags = string_list("build.cpu_flags")
libc_flags = string_list("build.libc_flags")
common_flags = [opt_flag, "-g", "-ffunction-sections", "-fdata-sections",
                # TFLM's float kernels round every product: no fused multiply-add
                "-ffp-contract=off",
                "-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wstrict-prototypes"]
defines = [
    ("MCB_BOARD", f'\\"{board.id}\\"'),
    ("MCB_CORE", f'\\"{board.get("build.core_name")}\\"'),
    ("MCB_FIRMWARE_GIT", f'\\"{firmware_git_hash()}\\"'),
    # What the code was generated with; libc_flags stay out (see the module docstring).
    ("MCB_BUILD_FLAGS", f'\\"{" ".join([opt_flag, "-ffp-contract=off", *cpu_flags])}\\"'),
]
if profile:
    defines.append("MCB_PROFILE")
for item in board.get("build.defines", []):
    name, _, value = item.partition("=")
    defines.append((name, value) if value else name)

env.Replace(
    AR=f"{prefix}gcc-ar",
    AS=f"{prefix}gcc",
    CC=f"{prefix}gcc",
    CXX=f"{prefix}g++",
    LINK=f"{prefix}gcc",  # never g++: the RISC-V toolchain has no C++ library
    OBJCOPY=f"{prefix}objcopy",
    RANLIB=f"{prefix}gcc-ranlib",
    SIZETOOL=f"{prefix}size",
    PROGNAME="firmware",
    PROGSUFFIX=".elf",
    SIZEPROGREGEXP=r"^(?:\.text|\.rodata|\.data|\.vectors|\.init_array)\s+(\d+).*",
    SIZEDATAREGEXP=r"^(?:\.data|\.bss|\.stack|\.heap)\s+(\d+).*",
    SIZECHECKCMD="$SIZETOOL -A -d $SOURCES",
    SRC_FILTER=[
        f"+<{app_dir}/>", "+<protocol/>", "+<runtime/>", "+<kernels/reference/>",
        f"+<ports/{port}/>",
        *(f"+<ports/{lib}/>" for lib in port_libs),
    ],
)
env.Append(
    ASFLAGS=cpu_flags + libc_flags,
    ASPPFLAGS=["-x", "assembler-with-cpp"],
    CFLAGS=["-std=c11"],
    CCFLAGS=cpu_flags + libc_flags + common_flags,
    CPPDEFINES=defines,
    CPPPATH=[os.path.join(firmware_dir, "include"), os.path.join(firmware_dir, "ports", port)]
    + [os.path.join(firmware_dir, "ports", lib) for lib in port_libs],
    LINKFLAGS=cpu_flags + libc_flags + [opt_flag, "-Wl,--gc-sections"]
    + string_list("build.link_flags"),
    LIBS=list(board.get("build.libs", [])),
)
ldscript = board.get("build.ldscript", "")
if ldscript:
    # PlatformIO turns LDSCRIPT_PATH into "-T"; make it absolute, since its own lookup of
    # relative linker-script folders (LIBPATH) is unreliable.
    env.Replace(LDSCRIPT_PATH=os.path.join(firmware_dir, "ports", port, ldscript))
    env.Append(LINKFLAGS=["-Wl,-Map," + os.path.join("$BUILD_DIR", "firmware.map")])

embedded_dir = os.environ.get("MCB_EMBEDDED_MODEL_DIR", "")
if embedded_dir:
    env.Append(CPPDEFINES=["MCB_EMBEDDED_MODEL"])
    env.BuildSources(os.path.join("$BUILD_DIR", "embedded_model"), embedded_dir, "+<*.S>")

program = env.BuildProgram()
Default(program)
