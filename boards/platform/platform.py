from platformio.public import PlatformBase


class McubenchPlatform(PlatformBase):
    """Toolchains come from the system (Debian packages), so there is nothing to install."""
