"""Flash and RAM use of a firmware ELF, the way `size` counts them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile


@dataclass(frozen=True)
class ElfSize:
    text: int  # code and read-only data (flash)
    data: int  # initialised RAM data (stored in flash, copied to RAM)
    bss: int  # zero-initialised RAM, including the stack where the linker script reserves it

    @property
    def flash_bytes(self) -> int:
        return self.text + self.data

    @property
    def ram_bytes(self) -> int:
        return self.data + self.bss


def elf_size(path: Path) -> ElfSize:
    text = data = bss = 0
    with path.open("rb") as stream:
        for section in ELFFile(stream).iter_sections():
            flags = section["sh_flags"]
            if not flags & SH_FLAGS.SHF_ALLOC:
                continue
            size = section["sh_size"]
            if section["sh_type"] == "SHT_NOBITS":
                bss += size
            elif flags & SH_FLAGS.SHF_WRITE:
                data += size
            else:
                text += size
    return ElfSize(text=text, data=data, bss=bss)
