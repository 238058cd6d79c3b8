"""The supercomputing center: a job API, a JetStream work queue, workers and a library of Numba kernels."""
