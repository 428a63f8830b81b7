// A small persistent thread pool for the element loops. OpenBLAS keeps its own threads; the two
// never run at once because every kernel call is synchronous on the JS thread.
#pragma once
#include <cstddef>
#include <functional>

namespace sslnative {

void set_pool_threads(int n);
int pool_threads();

// Runs fn(begin, end) over [0, n) split into at most pool_threads() chunks. Chunks smaller than
// `grain` items are not split further: below that, waking a thread costs more than it saves.
void parallel_for(std::size_t n, std::size_t grain, const std::function<void(std::size_t, std::size_t)>& fn);

}  // namespace sslnative
