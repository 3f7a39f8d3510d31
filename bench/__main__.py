"""`make bench`: run every benchmark and print its numbers."""

from bench import cold_start, request_overhead

for benchmark in (cold_start, request_overhead):
    benchmark.main()
