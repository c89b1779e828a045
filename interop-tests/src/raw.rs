//! A raw gRPC client: a codec that sends arbitrary bytes on `Connection/OpenStream`, for
//! feeding servers malformed frames.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use compat_proto::pb;
use orbit_test_support::with_identity;
use prost::Message as _;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::{Status, Streaming};

/// Connects to `endpoint` (`host:port`).
pub async fn connect(endpoint: &str) -> anyhow::Result<Channel> {
    Ok(Channel::from_shared(format!("http://{endpoint}"))?.connect_timeout(Duration::from_secs(10)).connect().await?)
}

/// Sends raw frames, receives whatever bytes come back.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

/// The encoder half of [`RawCodec`].
#[derive(Debug)]
pub struct RawEncoder;

/// The decoder half of [`RawCodec`].
#[derive(Debug)]
pub struct RawDecoder;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// A stream opened with raw frames.
///
/// grpc-java servers send the response headers only with their first message, so opening
/// cannot wait for them: a task drives the call and reports what happens as events.
pub struct RawStream {
    /// Frames to send.
    pub outbound: mpsc::Sender<Bytes>,
    events: mpsc::UnboundedReceiver<StreamEvent>,
}

impl RawStream {
    /// Opens `Connection/OpenStream` with the identity `(namespace, key)`.
    pub async fn open(channel: &Channel, namespace: &str, key: &str) -> anyhow::Result<RawStream> {
        let mut grpc = tonic::client::Grpc::new(channel.clone()).max_encoding_message_size(64 << 20);
        grpc.ready().await?;
        let (outbound, rx) = mpsc::channel(16);
        let (events_tx, events) = mpsc::unbounded_channel();
        let request = with_identity(ReceiverStream::new(rx), Some(namespace), Some(key));
        tokio::spawn(async move {
            let path = http::uri::PathAndQuery::from_static("/orbit.shared.Connection/OpenStream");
            let mut inbound: Streaming<Bytes> = match grpc.streaming(request, path, RawCodec).await {
                Ok(response) => response.into_inner(),
                Err(status) => {
                    let _ = events_tx.send(StreamEvent::Failed(status.code()));
                    return;
                }
            };
            loop {
                let event = match inbound.message().await {
                    Ok(None) => StreamEvent::Ended,
                    Err(status) => StreamEvent::Failed(status.code()),
                    Ok(Some(bytes)) => match pb::MessageProto::decode(bytes) {
                        Ok(message) => StreamEvent::Message(Box::new(message)),
                        Err(e) => StreamEvent::Garbage(e.to_string()),
                    },
                };
                let last = !matches!(event, StreamEvent::Message(_) | StreamEvent::Garbage(_));
                if events_tx.send(event).is_err() || last {
                    return;
                }
            }
        });
        Ok(RawStream { outbound, events })
    }

    /// Sends one message, encoded.
    pub async fn send(&self, message: &pb::MessageProto) -> anyhow::Result<()> {
        self.outbound.send(Bytes::from(message.encode_to_vec())).await?;
        Ok(())
    }

    /// Returns what happens next on the stream within `limit`: a message, its end, or an
    /// error status, as values both servers' answers can be compared by.
    pub async fn next_event(&mut self, limit: Duration) -> StreamEvent {
        match tokio::time::timeout(limit, self.events.recv()).await {
            Err(_) => StreamEvent::Silent,
            Ok(None) => StreamEvent::Ended,
            Ok(Some(event)) => event,
        }
    }
}

/// What a stream did next.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// A message arrived.
    Message(Box<pb::MessageProto>),
    /// The server ended the stream cleanly.
    Ended,
    /// The stream failed with this status.
    Failed(tonic::Code),
    /// Nothing happened within the time limit.
    Silent,
    /// Bytes arrived that are not a message.
    Garbage(String),
}
