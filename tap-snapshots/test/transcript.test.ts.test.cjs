/* IMPORTANT
 * This snapshot file is auto-generated, but designed for humans.
 * It should be checked into source control and tracked carefully.
 * Re-generate by setting TAP_SNAPSHOT=1 and running tests.
 * Make sure to inspect the output below.  Do not ignore changes!
 */
'use strict'
exports[`test/transcript.test.ts > TAP > an auto-dispatch conversation: ack, replies, _err_, close > must match snapshot 1`] = `
Array [
  "< text {\\"event\\":\\"welcome\\"}",
  "> text {\\"event\\":\\"chat\\",\\"text\\":\\"hi\\"}",
  "< text {\\"event\\":\\"chat\\",\\"text\\":\\"hi\\"}",
  "> text {\\"event\\":\\"chat\\",\\"text\\":\\"with id\\",\\"_EID_\\":1}",
  "< text {\\"event\\":\\"_ack_\\",\\"_EID_\\":1}",
  "< text {\\"event\\":\\"chat\\",\\"text\\":\\"with id\\",\\"_EID_\\":1}",
  "> text {\\"event\\":\\"whisper\\",\\"_EID_\\":\\"w\\"}",
  "< text {\\"event\\":\\"_ack_\\",\\"_EID_\\":\\"w\\"}",
  "< text a plain string",
  "> text {\\"event\\":\\"quiet\\",\\"_EID_\\":2}",
  "< text {\\"event\\":\\"_ack_\\",\\"_EID_\\":2}",
  "> text {\\"event\\":\\"missing\\",\\"_EID_\\":3}",
  "< text {\\"event\\":\\"_ack_\\",\\"_EID_\\":3}",
  "< text {\\"event\\":\\"_err_\\",\\"status\\":404,\\"error\\":\\"unknown event\\",\\"request\\":\\"missing\\",\\"_EID_\\":3}",
  "> text {\\"event\\":\\"fail\\",\\"_EID_\\":4}",
  "< text {\\"event\\":\\"_ack_\\",\\"_EID_\\":4}",
  "< text {\\"event\\":\\"_err_\\",\\"status\\":500,\\"request\\":\\"fail\\",\\"_EID_\\":4}",
  "> text {\\"event\\":\\"onOpen\\"}",
  "< text {\\"event\\":\\"_err_\\",\\"status\\":404,\\"error\\":\\"unknown event\\",\\"request\\":\\"onOpen\\"}",
  "> text not json",
  "closed 1007 expected a JSON object with a string \\"event\\"",
]
`

exports[`test/transcript.test.ts > TAP > the sample controller of SPEC section 3 > must match snapshot 1`] = `
Array [
  "< text welcome",
  "> text hello",
  "< text echo: hello",
  "> text ünïcode ✓",
  "< text echo: ünïcode ✓",
  "> binary deadbeef",
  "< binary deadbeef",
  "< text Server shutting down. Goodbye.",
  "closed 1001 server shutting down",
]
`
