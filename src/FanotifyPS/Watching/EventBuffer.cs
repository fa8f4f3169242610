using System;
using System.Collections;
using System.Management.Automation;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;

namespace FanotifyPS.Watching;

/// <summary>
/// The hand-off between a watch's responder threads and its readers, who all share one buffer: the job's Output
/// collection, which Receive-Job reads and Get-FanotifyEvent reads too.
///
/// Implementation notes:
/// - A responder only calls <see cref="TryWrite"/>: an interlocked count against the capacity and a write to an
///   unbounded channel. It never takes the Output lock (readers hold it) and never runs a reader's code.
/// - A pump on the thread pool moves what the channel holds into Output; PSDataCollection raises DataAdded on the
///   adding thread, so Receive-Job -Wait's handlers run there and not on a responder.
/// - The capacity bounds events in the channel plus events in Output. Output.Count is read by the pump (which adds)
///   and by Get-FanotifyEvent (which removes) and published in <see cref="_outputCount"/>; Receive-Job removes
///   without telling anyone, so a full buffer is re-counted every <see cref="RecountInterval"/>.
/// - Lock order: Output's SyncRoot only; the pump and readers never hold it while waiting.
/// </summary>
internal sealed class EventBuffer
{
    public const int DefaultCapacity = 65536;

    /// <summary>How often a full buffer is re-counted, to see room that Receive-Job made.</summary>
    private static readonly TimeSpan RecountInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>Waits this long after the first event of a burst, so that a burst costs one wake-up, not one per event.</summary>
    private static readonly TimeSpan CoalesceDelay = TimeSpan.FromMilliseconds(1);

    private readonly Channel<FanotifyEvent> _channel = Channel.CreateUnbounded<FanotifyEvent>(new UnboundedChannelOptions
    {
        SingleReader = false,   // the pump, and a reader taking events: both under the Output lock
        SingleWriter = false,   // a watch with both kinds of group has two responders
        AllowSynchronousContinuations = false,   // the pump's continuation never runs on a responder
    });

    private readonly PSDataCollection<PSObject> _output;
    private readonly object _outputLock;
    private TaskCompletionSource _moved = NewSignal();
    private Task _pump = Task.CompletedTask;
    private int _inChannel;
    private int _outputCount;

    public EventBuffer(int capacity, PSDataCollection<PSObject> output)
    {
        Capacity = capacity;
        _output = output;
        _outputLock = ((ICollection)output).SyncRoot;
    }

    public int Capacity { get; }

    /// <summary>Events waiting for a reader.</summary>
    public int Count => Volatile.Read(ref _inChannel) + _output.Count;

    /// <summary>Runs after every move and every re-count, on the pump.</summary>
    public Action? Pumped { get; set; }

    /// <summary>On a responder: false when the buffer is full (the caller counts a drop). Never waits.</summary>
    public bool TryWrite(FanotifyEvent item)
    {
        if (Interlocked.Increment(ref _inChannel) + Volatile.Read(ref _outputCount) > Capacity)
        {
            Interlocked.Decrement(ref _inChannel);
            return false;
        }

        _channel.Writer.TryWrite(item);   // unbounded: always succeeds until Complete
        return true;
    }

    /// <summary>Before the pump starts: drops what the warm-up wrote.</summary>
    public void DiscardPending()
    {
        while (_channel.Reader.TryRead(out _))
        {
            Interlocked.Decrement(ref _inChannel);
        }
    }

    /// <summary>The returned task completes when the watch has ended and everything it produced is in Output.</summary>
    public Task StartPump() => _pump = Task.Run(PumpAsync);

    /// <summary>No more events will come; what is buffered stays readable.</summary>
    public void Complete() => _channel.Writer.TryComplete();

    /// <summary>Completes when Output may have events, or with false once the watch ended and Output is empty.</summary>
    public async Task<bool> WaitToReadAsync(CancellationToken cancellationToken)
    {
        Task moved = Volatile.Read(ref _moved).Task;
        if (_output.Count > 0)
        {
            return true;
        }

        if (_pump.IsCompleted)
        {
            return false;
        }

        await Task.WhenAny(moved, _pump).WaitAsync(cancellationToken).ConfigureAwait(false);
        return _output.Count > 0 || !_pump.IsCompleted;
    }

    /// <summary>
    /// Takes up to <paramref name="max"/> events (all when 0) from the front of Output, in one O(n) pass, after
    /// moving what the pump has not moved yet: a reader gets every event counted in Count. They stay wrapped
    /// as they were wrapped for Output, so that writing them to the pipeline does not wrap them again.
    /// </summary>
    public PSObject[] Take(int max)
    {
        PSObject[] items;
        lock (_outputLock)
        {
            MoveLocked();
            items = new PSObject[_output.Count];
            ((ICollection)_output).CopyTo(items, 0);
            _output.Clear();   // ReadAll would remove one item at a time from the front of a list: O(n^2)
            if (max > 0 && max < items.Length)
            {
                for (int i = max; i < items.Length; i++)
                {
                    _output.Add(items[i]);   // nothing else can add while the lock is held: the order stays
                }

                Array.Resize(ref items, max);
            }

            Volatile.Write(ref _outputCount, _output.Count);
        }

        return items;
    }

    private async Task PumpAsync()
    {
        ChannelReader<FanotifyEvent> reader = _channel.Reader;
        while (true)
        {
            Task<bool> waitToRead = reader.WaitToReadAsync().AsTask();
            if (!waitToRead.IsCompleted && IsFull())
            {
                // Full by the last count: re-count now and then, or room made by Receive-Job would go unseen.
                while (await Task.WhenAny(waitToRead, Task.Delay(RecountInterval)).ConfigureAwait(false) != waitToRead && IsFull())
                {
                    Recount();
                }
            }

            if (!await waitToRead.ConfigureAwait(false))
            {
                break;   // completed and drained
            }

            await Task.Delay(CoalesceDelay).ConfigureAwait(false);
            Move();
        }

        Move();
        Pumped?.Invoke();
    }

    private bool IsFull() => Volatile.Read(ref _inChannel) + Volatile.Read(ref _outputCount) >= Capacity;

    private void Recount()
    {
        Volatile.Write(ref _outputCount, _output.Count);
        Pumped?.Invoke();
    }

    private void Move()
    {
        int moved;
        lock (_outputLock)
        {
            moved = MoveLocked();
        }

        if (moved > 0)
        {
            Interlocked.Exchange(ref _moved, NewSignal()).TrySetResult();
        }

        Pumped?.Invoke();
    }

    /// <summary>Moves everything in the channel to Output; the caller holds the Output lock.</summary>
    private int MoveLocked()
    {
        int moved = 0;
        while (_channel.Reader.TryRead(out FanotifyEvent? item))
        {
            _output.Add(PSObject.AsPSObject(item));
            moved++;
        }

        Interlocked.Add(ref _inChannel, -moved);
        Volatile.Write(ref _outputCount, _output.Count);
        return moved;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
