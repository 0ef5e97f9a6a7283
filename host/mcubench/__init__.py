"""mcubench: run TensorFlow Lite models on microcontrollers and measure them there."""

__version__ = "0.1.0"
