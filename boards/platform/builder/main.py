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

A model is linked into the firmware when the environment names its folder of sources in
``MCB_EMBEDDED_MODEL_DIR`` (``mcubench build --model`` writes one, and a build folder of
its own): those sources are built too, with MCB_EMBEDDED_MODEL defined everywhere.
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


cpu_flags = string_list("build.cpu_flags")
libc_flags = string_list("build.libc_flags")
common_flags = ["-Os", "-g", "-ffunction-sections", "-fdata-sections",
                # TFLM's float kernels round every product: no fused multiply-add
                "-ffp-contract=off",
                "-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wstrict-prototypes"]
defines = [
    ("MCB_BOARD", f'\\"{board.id}\\"'),
    ("MCB_CORE", f'\\"{board.get("build.core_name")}\\"'),
    ("MCB_FIRMWARE_GIT", f'\\"{firmware_git_hash()}\\"'),
    # What the code was generated with; libc_flags stay out (see the module docstring).
    ("MCB_BUILD_FLAGS", f'\\"{" ".join(["-Os", "-ffp-contract=off", *cpu_flags])}\\"'),
]
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
        "+<app/>", "+<protocol/>", "+<runtime/>", "+<kernels/reference/>",
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
    LINKFLAGS=cpu_flags + libc_flags + ["-Os", "-Wl,--gc-sections"]
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
