#include "onnx_crypt/base/openblas_env.h"

#include <dirent.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

extern "C" char* openblas_get_corename(void);

namespace onnx_crypt {

namespace {

// The OpenBLAS core type to force, or nullptr to leave OpenBLAS's choice.
const char* BetterOpenBlasCore() {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return nullptr;
  const char* core = openblas_get_corename();
  if (core == nullptr || std::strcmp(core, "Prescott") != 0) return nullptr;
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") ? "SkylakeX"
         : __builtin_cpu_supports("avx2")  ? "Haswell"
                                           : nullptr;
}

// The --threads value in argv (0: absent, all cores).
int ThreadsInArgv(char** argv) {
  for (int i = 1; argv[i] != nullptr; ++i) {
    const char* a = argv[i];
    if (std::strcmp(a, "--threads") == 0 && argv[i + 1] != nullptr) {
      return std::atoi(argv[i + 1]);
    }
    if (std::strncmp(a, "--threads=", 10) == 0) return std::atoi(a + 10);
  }
  return 0;
}

// This process's threads that are running or runnable now (state R in
// /proc/self/task/*/stat): this one, and the runtimes' workers (OpenBLAS
// starts its own when it loads).
int OwnRunnable() {
  int count = 0;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return 1;
  while (const dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream stat(std::string("/proc/self/task/") + e->d_name + "/stat");
    std::string line;
    std::getline(stat, line);
    // pid (comm) state ...: the state follows the last ')'.
    const size_t close = line.rfind(')');
    if (close != std::string::npos && close + 2 < line.size() &&
        line[close + 2] == 'R') {
      ++count;
    }
  }
  closedir(dir);
  return std::max(count, 1);
}

// Runnable threads of other processes now: the least of three looks at
// /proc/stat's procs_running less this process's own, a millisecond apart, so
// a short-lived process does not count; -1 when unreadable.
int OtherRunnable() {
  int least = -1;
  for (int look = 0; look < 3; ++look) {
    if (look > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::ifstream stat("/proc/stat");
    std::string key;
    int value = -1;
    while (stat >> key) {
      if (key == "procs_running") {
        stat >> value;
        break;
      }
      stat.ignore(1 << 16, '\n');
    }
    if (value < 1) return -1;
    const int others = std::max(0, value - OwnRunnable());
    least = least < 0 ? others : std::min(least, others);
  }
  return least;
}

// Whether the kernel threads this run asks for (--threads, default every
// core it may use) find their cores free of other processes' runnable threads.
bool CoresFreeForThreads(char** argv) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return false;
  const int cores = CPU_COUNT(&set);
  const int asked = ThreadsInArgv(argv);
  const int threads = asked > 0 && asked < cores ? asked : cores;
  const int others = OtherRunnable();
  return others >= 0 && others + threads <= cores;
}

}  // namespace

void ReexecWithKernelRuntimeSettings(char** argv) {
  bool changed = false;
  if (const char* better = BetterOpenBlasCore()) {
    setenv("OPENBLAS_CORETYPE", better, 1);
    changed = true;
  }
  // GNU OpenMP's workers wait for the next parallel region by spinning for a
  // while (its default, 300,000 spins) or, passive, asleep. Which is faster
  // depends on the machine's other work (tools/bench/results/forward_cpu.md,
  // 2 cores, 2 threads):
  //  - on free cores, waking a sleeping worker costs more than a small region:
  //    passive ran lenet5 2.6x, bn_cnn 2.9x, resnet_small 2.1x slower than
  //    spinning;
  //  - with one core busy elsewhere, spinning workers fight that process and
  //    each other: spinning ran them 2.2x, 2.0x and 2.1x slower than passive.
  // So: spin (GOMP_SPINCOUNT=300000, GNU OpenMP's own default, bounded: an
  // idle worker still goes to sleep within about a millisecond) when the
  // threads this run asks for find their cores free of other processes'
  // runnable threads (looked at now), sleep (OMP_WAIT_POLICY=PASSIVE)
  // otherwise. The choice changes speed only, never results.
  if (std::getenv("OMP_WAIT_POLICY") == nullptr &&
      std::getenv("GOMP_SPINCOUNT") == nullptr) {
    if (CoresFreeForThreads(argv)) {
      setenv("GOMP_SPINCOUNT", "300000", 1);
    } else {
      setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    }
    changed = true;
  }
  if (!changed) return;
  execv("/proc/self/exe",
        argv);  // returns only on failure: then carry on as we are
}

}  // namespace onnx_crypt
