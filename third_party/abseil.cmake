# Abseil (Debian libabsl-dev 20220623): Status, StatusOr, strings, containers, synchronization.
# Imported targets absl::*.
find_package(absl REQUIRED CONFIG)
