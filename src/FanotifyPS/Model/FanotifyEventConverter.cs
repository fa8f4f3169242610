using System;
using System.Collections.Generic;
using System.Globalization;
using System.Management.Automation;
using System.Reflection;

namespace FanotifyPS;

/// <summary>
/// Turns a deserialized event (Import-Clixml, a job's or a remote session's output) back into a FanotifyEvent,
/// so that Event and Response are enums again and compare and print by name. FanotifyPS.types.ps1xml makes it
/// the converter of FanotifyEvent and the event's TargetTypeForDeserialization.
/// </summary>
public sealed class FanotifyEventConverter : PSTypeConverter
{
    internal const string DeserializedTypeName = "Deserialized.FanotifyPS.FanotifyEvent";

    // The properties the rebuilt event has itself: the deserialized object's other notes (Add-Member, PSComputerName) are kept on it.
    private static readonly HashSet<string> s_ownProperties = new(
        Array.ConvertAll(typeof(FanotifyEvent).GetProperties(), p => p.Name), StringComparer.OrdinalIgnoreCase);

    // The public properties the constructor does not set (their setters are internal).
    private static readonly PropertyInfo[] s_settable =
        Array.FindAll(typeof(FanotifyEvent).GetProperties(), p => p.GetSetMethod(nonPublic: true) is not null);

    public override bool CanConvertFrom(object sourceValue, Type destinationType) =>
        destinationType == typeof(FanotifyEvent) && sourceValue is PSObject source && source.TypeNames.Contains(DeserializedTypeName);

    public override bool CanConvertFrom(PSObject sourceValue, Type destinationType) =>
        CanConvertFrom((object)sourceValue, destinationType);

    public override object ConvertFrom(object sourceValue, Type destinationType, IFormatProvider formatProvider, bool ignoreCase)
    {
        if (!CanConvertFrom(sourceValue, destinationType))
        {
            throw new PSInvalidCastException($"Only a {DeserializedTypeName} converts to {destinationType}.");
        }

        return Rehydrate((PSObject)sourceValue);
    }

    public override object ConvertFrom(PSObject sourceValue, Type destinationType, IFormatProvider formatProvider, bool ignoreCase) =>
        ConvertFrom((object)sourceValue, destinationType, formatProvider, ignoreCase);

    public override bool CanConvertTo(object sourceValue, Type destinationType) => false;

    public override object ConvertTo(object sourceValue, Type destinationType, IFormatProvider formatProvider, bool ignoreCase) =>
        throw new PSInvalidCastException($"A FanotifyEvent does not convert to {destinationType}.");

    /// <summary>
    /// The event as it was recorded. A property that is missing or null (another version of the module) keeps its
    /// default; a value that does not convert fails the conversion, and PowerShell then keeps the deserialized object.
    /// </summary>
    internal static FanotifyEvent Rehydrate(PSObject source)
    {
        var rehydrated = new FanotifyEvent(
            UtcTime(source),
            Get(source, nameof(FanotifyEvent.Event), FanotifyEventType.None),
            Get(source, nameof(FanotifyEvent.Path), string.Empty),
            Get(source, nameof(FanotifyEvent.IsDeleted), false),
            Get(source, nameof(FanotifyEvent.ProcessId), 0),
            Get(source, nameof(FanotifyEvent.Exe), string.Empty),
            Get(source, nameof(FanotifyEvent.IsProcessGone), false),
            Get(source, nameof(FanotifyEvent.Response), FanotifyResponse.None),
            Get(source, nameof(FanotifyEvent.WatchId), 0));

        // Each property with a setter, converted to its own type. UserName too: the name recorded where the event
        // happened, as the uid may be someone else's here.
        foreach (PropertyInfo property in s_settable)
        {
            object? value = source.Properties[property.Name]?.Value;
            if (value is not null)
            {
                property.SetValue(rehydrated, LanguagePrimitives.ConvertTo(value, property.PropertyType, CultureInfo.InvariantCulture));
            }
        }

        // Files saved before these were nullable hold placeholders: ThreadId 0 and UserId -1 (never a real thread or
        // user), and FsErrorCode and FsErrorCount 0 on events that are not FsError. They mean "no value".
        if (rehydrated.ThreadId == 0)
        {
            rehydrated.ThreadId = null;
        }

        if (rehydrated.UserId < 0)
        {
            rehydrated.UserId = null;
        }

        if ((rehydrated.Event & FanotifyEventType.FsError) == 0)
        {
            rehydrated.FsErrorCode = null;
            rehydrated.FsErrorCount = null;
        }

        // PowerShell keeps the members of a wrapper with the object it wraps: a cast or the deserializer, which
        // want the FanotifyEvent itself, still find these notes on it.
        var wrapper = PSObject.AsPSObject(rehydrated);
        foreach (PSPropertyInfo property in source.Properties)
        {
            if (property is PSNoteProperty && !s_ownProperties.Contains(property.Name))
            {
                wrapper.Properties.Add(new PSNoteProperty(property.Name, property.Value));
            }
        }

        return rehydrated;
    }

    private static DateTime UtcTime(PSObject source)
    {
        object? value = source.Properties[nameof(FanotifyEvent.TimeStamp)]?.Value;
        if (value is PSObject wrapped)
        {
            value = wrapped.BaseObject;
        }

        if (value is DateTime time)
        {
            return time.Kind == DateTimeKind.Utc ? time : time.ToUniversalTime();
        }

        // TimeStampIso has the offset: a CSV-like source without a DateTime still gives the exact time.
        string iso = Get(source, nameof(FanotifyEvent.TimeStampIso), string.Empty);
        return iso.Length != 0
            ? DateTimeOffset.Parse(iso, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind).UtcDateTime
            : default;
    }

    private static T Get<T>(PSObject source, string name, T missing)
    {
        object? value = source.Properties[name]?.Value;
        return value is null ? missing : LanguagePrimitives.ConvertTo<T>(value);
    }
}
