# nox_add_check_test(NAME [LIBS ...] [TIMEOUT s])
#   Builds tests/NAME.c with the shared test utilities (testutil.c,
#   sandbox_scan.c) into one executable and registers it with ctest.
#   Check forks per test (CK_FORK) so a crash fails one test, not the run.
function(nox_add_check_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "LIBS" ${ARGN})
  if(NOT EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${name}.c)
    message(STATUS "test ${name}: no source yet, skipped")
    return()
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_executable(${name} ${name}.c testutil.c sandbox_scan.c)
  target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE ${T_LIBS} nox_engine PkgConfig::CHECK
    nox_warnings)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "NOXRUNNER_QUIET=1;NOX_BUILD_DIR=${CMAKE_BINARY_DIR};NOX_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endfunction()
