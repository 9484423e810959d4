export { decodeJsonTraceRequest } from "./json.ts";
export { decodeTraceRequest } from "./protobuf.ts";
export { type OtlpReceiver, type OtlpReceiverOptions, startOtlpReceiver } from "./receiver.ts";
export { type AnyValue, type KeyValues, type ReceivedSpan, unixNanoToMs } from "./types.ts";
