# A session through the browser rep console shows the real desktop (issue 7),
# included from tests/browser_tests.cmake: in a network namespace the test
# creates, headless Chromium runs the rep console (web/) against the real
# tandem-signal and tandem-relay; tandem-share joins with the code the page
# shows and shares an Xvfb desktop with real X clients (xterm). The video's
# size and pixels match the X screen (xwd), the rep's click and typing over
# the video reach the xterm, and after the customer takes control back the
# console shows it and the rep's input is refused and reaches nothing (the
# story is in tests/browser/console_desktop_test.mjs). Screenshots of the
# console, the decoded frames and the X screen go to console_desktop_screens/
# in the build directory. Skips (77) without root, Chromium, Xvfb, xterm,
# xdotool, xwd or xwininfo.
if(TARGET tandem-signal AND TARGET tandem-relay AND TARGET tandem-share)
  add_test(NAME browser_console_desktop_test
           COMMAND ${CMAKE_SOURCE_DIR}/tests/browser/run_console_desktop_test.sh
                   $<TARGET_FILE:tandem-signal> $<TARGET_FILE:tandem-relay>
                   $<TARGET_FILE:tandem-share>
                   ${CMAKE_BINARY_DIR}/console_desktop_screens)
  set_tests_properties(browser_console_desktop_test PROPERTIES
                       LABELS "integration;browser;desktop"
                       TIMEOUT 300
                       SKIP_RETURN_CODE 77
                       RESOURCE_LOCK browser)
endif()
