# Four helpers that make each module's CMakeLists.txt read as a manifest (STYLE.md section 3).

set(LIAISON_SHARED_DIR "${PROJECT_SOURCE_DIR}/../shared" CACHE PATH
    "The project's shared data (conformance vectors, real STIX and logs)")

# liaison_library(name SRCS a.cc ... DEPS liaison::x absl::y ...)
# Defines liaison_<name>, aliased liaison::<name>. DEPS is the module's allowed dependency list.
function(liaison_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_library(liaison_${name} STATIC ${ARG_SRCS})
  add_library(liaison::${name} ALIAS liaison_${name})
  target_include_directories(liaison_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(liaison_${name} PUBLIC ${ARG_DEPS})
endfunction()

# liaison_test(module test_a test_b ... [DEPS ...]) -> tests/<module>/<test>.cc, one ctest each.
function(liaison_test module)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  foreach(test ${ARG_UNPARSED_ARGUMENTS})
    set(target ${module}_${test})
    add_executable(${target} ${PROJECT_SOURCE_DIR}/tests/${module}/${test}.cc)
    target_link_libraries(${target} PRIVATE liaison::${module} liaison_testing ${ARG_DEPS}
                          GTest::gtest GTest::gmock GTest::gtest_main)
    add_test(NAME ${target} COMMAND ${target})
    set_tests_properties(${target} PROPERTIES
      ENVIRONMENT "LIAISON_SHARED_DIR=${LIAISON_SHARED_DIR};LIAISON_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
  endforeach()
endfunction()

# liaison_benchmark(module bench_a ... [DEPS ...]) -> bench/<module>/<bench>.cc; built, and run
# once with a tiny min_time by ctest so that benchmarks cannot rot. Never gates on timing.
function(liaison_benchmark module)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  foreach(bench ${ARG_UNPARSED_ARGUMENTS})
    set(target ${module}_${bench})
    add_executable(${target} ${PROJECT_SOURCE_DIR}/bench/${module}/${bench}.cc)
    target_link_libraries(${target} PRIVATE liaison::${module} ${ARG_DEPS} benchmark::benchmark)
    add_test(NAME ${target}_smoke COMMAND ${target} --benchmark_min_time=0.01)
    set_tests_properties(${target}_smoke PROPERTIES
      ENVIRONMENT "LIAISON_SHARED_DIR=${LIAISON_SHARED_DIR};LIAISON_BENCH_SMOKE=1")
  endforeach()
endfunction()

# liaison_fuzzer(module target ... [DEPS ...]) -> fuzz/<module>/<target>.cc with its corpus in
# fuzz/<module>/<target>_corpus/. Under GCC a replay main runs the corpus as a ctest; with clang
# and LIAISON_FUZZ=ON it links libFuzzer.
function(liaison_fuzzer module)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  foreach(fuzzer ${ARG_UNPARSED_ARGUMENTS})
    set(target ${module}_${fuzzer})
    set(corpus ${PROJECT_SOURCE_DIR}/fuzz/${module}/${fuzzer}_corpus)
    add_executable(${target} ${PROJECT_SOURCE_DIR}/fuzz/${module}/${fuzzer}.cc)
    target_link_libraries(${target} PRIVATE liaison::${module} ${ARG_DEPS})
    if(LIAISON_FUZZ)
      target_compile_options(${target} PRIVATE -fsanitize=fuzzer,address,undefined)
      target_link_options(${target} PRIVATE -fsanitize=fuzzer,address,undefined)
    else()
      target_sources(${target} PRIVATE ${PROJECT_SOURCE_DIR}/fuzz/replay_main.cc)
      add_test(NAME ${target}_replay COMMAND ${target} ${corpus})
    endif()
  endforeach()
endfunction()
