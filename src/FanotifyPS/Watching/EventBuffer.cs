using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;

namespace FanotifyPS.Watching;

/// <summary>
/// The bounded hand-off between a watch's responder threads and the pipeline. A responder only ever calls
/// <see cref="TryWrite"/>, which never waits: a full buffer refuses the event and the responder counts it.
/// </summary>
internal sealed class EventBuffer
{
    public const int DefaultCapacity = 65536;

    private readonly Channel<FanotifyEvent> _channel;

    public EventBuffer(int capacity)
    {
        Capacity = capacity;
        _channel = Channel.CreateBounded<FanotifyEvent>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,  // with TryWrite: refuse, never block
            SingleWriter = false,   // a watch with both kinds of group has two responders
            SingleReader = false,
            // Consumers' continuations go to the thread pool, never run on the responder.
            AllowSynchronousContinuations = false,
        });
    }

    public int Capacity { get; }

    public int Count => _channel.Reader.Count;

    public bool TryWrite(FanotifyEvent item) => _channel.Writer.TryWrite(item);

    public bool TryRead(out FanotifyEvent item) => _channel.Reader.TryRead(out item!);

    /// <summary>Completes when an event is buffered (true) or the watch has ended and the buffer is empty (false).</summary>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken) =>
        _channel.Reader.WaitToReadAsync(cancellationToken);

    /// <summary>No more events will come; what is buffered stays readable.</summary>
    public void Complete() => _channel.Writer.TryComplete();
}
