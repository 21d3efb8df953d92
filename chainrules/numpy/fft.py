"""Rules for numpy.fft."""
