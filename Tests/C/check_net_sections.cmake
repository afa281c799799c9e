# Fails when net_test --list and the sections Tests/C/CMakeLists.txt registers differ, so a section
# added to net_test.c cannot be left out of CTest.   cmake -DPROGRAM=... -DEXPECTED=a;b -P this
execute_process(COMMAND "${PROGRAM}" --list OUTPUT_VARIABLE listed RESULT_VARIABLE status)
if(NOT status EQUAL 0)
    message(FATAL_ERROR "net_test --list failed: ${status}")
endif()
string(STRIP "${listed}" listed)
string(REPLACE "\n" ";" listed "${listed}")
if(NOT listed STREQUAL EXPECTED)
    message(FATAL_ERROR "net_test sections: program lists '${listed}', CMakeLists.txt registers '${EXPECTED}'")
endif()
