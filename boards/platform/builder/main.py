"""PlatformIO builder for the mcubench firmware, using the system's compilers.

Each board manifest (boards/platform/boards/<board>.json) names a toolchain prefix, a
port folder under firmware/ports/, CPU flags, defines and a linker script. The source
set is the portable firmware plus that one port.
"""

import os
import shlex
import subprocess

from SCons.Script import Default, DefaultEnvironment  # pylint: disable=import-error

env = DefaultEnvironment()
board = env.BoardConfig()
project_dir = env.subst("$PROJECT_DIR")
firmware_dir = os.path.join(project_dir, "firmware")

toolchain = board.get("build.toolchain")  # e.g. "arm-none-eabi", or "" for the host
port = board.get("build.port")
prefix = f"{toolchain}-" if toolchain else ""


def firmware_git_hash():
    """Hash of the last commit touching firmware/, "-dirty" if it has local changes."""
    def git(*args):
        return subprocess.run(["git", "-C", project_dir, *args], capture_output=True,
                              text=True, check=False)
    rev = git("log", "-1", "--format=%h", "--", "firmware").stdout.strip() or "unknown"
    if git("status", "--porcelain", "--", "firmware").stdout.strip():
        rev += "-dirty"
    return rev


cpu_flags = list(board.get("build.cpu_flags", []))
common_flags = ["-Os", "-g", "-ffunction-sections", "-fdata-sections",
                "-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wstrict-prototypes"]
defines = [
    ("MCB_BOARD", '\\"%s\\"' % board.id),
    ("MCB_CORE", '\\"%s\\"' % board.get("build.core_name")),
    ("MCB_FIRMWARE_GIT", '\\"%s\\"' % firmware_git_hash()),
    ("MCB_BUILD_FLAGS", '\\"%s\\"' % " ".join(["-Os", *cpu_flags])),
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
    ],
)
env.Append(
    ASFLAGS=cpu_flags,
    ASPPFLAGS=["-x", "assembler-with-cpp"],
    CFLAGS=["-std=c11"],
    CCFLAGS=cpu_flags + common_flags,
    CPPDEFINES=defines,
    CPPPATH=[os.path.join(firmware_dir, "include"), os.path.join(firmware_dir, "ports", port)],
    LINKFLAGS=cpu_flags + ["-Os", "-Wl,--gc-sections"] + list(board.get("build.link_flags", [])),
    LIBS=list(board.get("build.libs", [])),
)
ldscript = board.get("build.ldscript", "")
if ldscript:
    # PlatformIO turns LDSCRIPT_PATH into "-T"; make it absolute, since its own lookup of
    # relative linker-script folders (LIBPATH) is unreliable.
    env.Replace(LDSCRIPT_PATH=os.path.join(firmware_dir, "ports", port, ldscript))
    env.Append(LINKFLAGS=["-Wl,-Map," + os.path.join("$BUILD_DIR", "firmware.map")])

program = env.BuildProgram()
Default(program)
