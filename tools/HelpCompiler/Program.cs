// HelpCompiler: docs/help/*.md (platyPS markdown schema 2.0.0) -> <ModuleBase>/en-US/*.dll-Help.xml (MAML) and
// about_*.help.txt, following platyPS 0.14's MamlRenderer and TextRenderer. Fails with file:line on anything the
// schema does not allow, as platyPS does.
// usage: HelpCompiler <docs/help> <output folder>
using System.Text;
using System.Xml.Linq;
using Markdig;
using Markdig.Extensions.Yaml;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;
using YamlDotNet.Serialization;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: HelpCompiler <markdown folder> <output folder>");
    return 2;
}

try
{
    Directory.CreateDirectory(args[1]);
    var commands = new List<(string HelpFile, XElement Command)>();
    foreach (string file in Directory.GetFiles(args[0], "*.md").Order(StringComparer.Ordinal))
    {
        if (Path.GetFileName(file).StartsWith("about_", StringComparison.OrdinalIgnoreCase))
        {
            string topic = Path.GetFileNameWithoutExtension(file);
            File.WriteAllText(Path.Combine(args[1], topic + ".help.txt"), AboutTopic.Render(file));
        }
        else
        {
            commands.Add(CommandHelp.Parse(file));
        }
    }

    foreach (var group in commands.GroupBy(c => c.HelpFile))
    {
        XNamespace msh = "http://msh";
        var doc = new XDocument(new XDeclaration("1.0", "utf-8", null),
            new XElement(msh + "helpItems", new XAttribute("schema", "maml"), group.Select(c => c.Command)));
        string target = Path.Combine(args[1], group.Key);
        using (var writer = new StreamWriter(target, false, new UTF8Encoding(false)))
        {
            doc.Save(writer, SaveOptions.OmitDuplicateNamespaces);
        }

        Console.WriteLine($"HelpCompiler: {group.Count()} commands -> {target}");
    }

    return 0;
}
catch (HelpSchemaException e)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}
catch (Exception e) when (e is IOException or YamlDotNet.Core.YamlException or System.Xml.XmlException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"HelpCompiler: {e.Message}");
    return 1;
}

/// <summary>A markdown file that does not follow the schema: the message names the file and line.</summary>
internal sealed class HelpSchemaException(string file, int line, string message) : Exception($"{file}:{line}: {message}");

internal static class Markdown
{
    public static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder().UseYamlFrontMatter().Build();

    public static string Text(ContainerInline? inlines)
    {
        var text = new StringBuilder();
        if (inlines is null)
        {
            return string.Empty;
        }

        foreach (Inline inline in inlines)
        {
            switch (inline)
            {
                case LiteralInline literal: text.Append(literal.Content.ToString()); break;
                case CodeInline code: text.Append(code.Content); break;
                case LineBreakInline lineBreak: text.Append(lineBreak.IsHard ? "\n" : " "); break;
                case LinkInline link:
                    string label = Text(link);
                    text.Append(link.Url is { Length: > 0 } url && Uri.IsWellFormedUriString(url, UriKind.Absolute) ? $"{label} ({url})" : label);
                    break;
                case ContainerInline container: text.Append(Text(container)); break;
                case HtmlEntityInline entity: text.Append(entity.Transcoded.ToString()); break;
            }
        }

        return text.ToString();
    }

    public static string Code(FencedCodeBlock block) => string.Join("\r\n", block.Lines.Lines.Take(block.Lines.Count).Select(l => l.ToString()));

    /// <summary>Paragraphs and list items as MAML paras.</summary>
    public static IEnumerable<string> Paragraphs(Block block) => block switch
    {
        ParagraphBlock p => [Text(p.Inline)],
        ListBlock list => list.OfType<ListItemBlock>().SelectMany(item => item.SelectMany(Paragraphs).Select(t => "- " + t)),
        FencedCodeBlock code => [Code(code)],
        _ => [],
    };
}

internal static class CommandHelp
{
    private static readonly XNamespace Maml = "http://schemas.microsoft.com/maml/2004/10";
    private static readonly XNamespace Command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
    private static readonly XNamespace Dev = "http://schemas.microsoft.com/maml/dev/2004/10";
    private static readonly XNamespace MsHelp = "http://msdn.microsoft.com/mshelp";
    private static readonly string[] Sections = ["SYNOPSIS", "SYNTAX", "DESCRIPTION", "EXAMPLES", "PARAMETERS", "INPUTS", "OUTPUTS", "NOTES", "RELATED LINKS"];
    private static readonly string[] YamlKeys = ["Type", "Parameter Sets", "Aliases", "Accepted values", "Applicable", "Required", "Position", "Default value", "Accept pipeline input", "Accept wildcard characters"];

    private sealed record Parameter(string Name, List<string> Description, List<Dictionary<string, string>> Sets);

    private sealed record Example(string Title, List<string> Introduction, List<string> Code, List<string> Remarks);

    public static (string HelpFile, XElement Command) Parse(string file)
    {
        MarkdownDocument document = Markdig.Markdown.Parse(File.ReadAllText(file), Markdown.Pipeline);
        HelpSchemaException Error(Block block, string message) => new(file, block.Line + 1, message);

        var front = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        string? name = null, section = null;
        var text = Sections.ToDictionary(s => s, _ => new List<string>());
        var parameters = new List<Parameter>();
        var examples = new List<Example>();
        var inputs = new List<(string Type, List<string> Text)>();
        var outputs = new List<(string Type, List<string> Text)>();
        var links = new List<(string Text, string Uri)>();
        var syntaxSets = new List<string>();
        Parameter? parameter = null;
        Example? example = null;
        List<string>? typeText = null;

        foreach (Block block in document)
        {
            if (block is YamlFrontMatterBlock yaml)
            {
                string body = string.Join("\n", yaml.Lines.Lines.Take(yaml.Lines.Count).Select(l => l.ToString()).Where(l => l != "---"));
                foreach (var (key, entry) in new DeserializerBuilder().Build().Deserialize<Dictionary<string, string?>>(body) ?? [])
                {
                    front[key] = entry ?? string.Empty;
                }

                continue;
            }

            if (block is HeadingBlock heading)
            {
                string title = Markdown.Text(heading.Inline).Trim();
                switch (heading.Level)
                {
                    case 1 when name is null:
                        name = title;
                        continue;
                    case 1:
                        throw Error(block, $"a second H1 ('{title}'): a command file has exactly one");
                    case 2:
                        section = title.ToUpperInvariant();
                        if (!Sections.Contains(section))
                        {
                            throw Error(block, $"Unexpected header name '{title}'. Expected one of: {string.Join(", ", Sections)}");
                        }

                        parameter = null;
                        example = null;
                        typeText = null;
                        continue;
                    case 3 when section == "PARAMETERS":
                        if (title == "CommonParameters")
                        {
                            parameter = null;
                            continue;
                        }

                        if (!title.StartsWith('-'))
                        {
                            throw Error(block, $"a parameter heading must be '### -Name', not '### {title}'");
                        }

                        parameter = new Parameter(title[1..], [], []);
                        parameters.Add(parameter);
                        continue;
                    case 3 when section == "EXAMPLES":
                        example = new Example(title, [], [], []);
                        examples.Add(example);
                        continue;
                    case 3 when section is "INPUTS" or "OUTPUTS":
                        typeText = [];
                        (section == "INPUTS" ? inputs : outputs).Add((title, typeText));
                        continue;
                    case 3 when section == "SYNTAX":
                        // The syntax is built from the parameters' yaml, as platyPS does; the headings name the sets,
                        // which keeps a set without parameters (Get-FanotifyWatch's All).
                        string set = title.Replace("(Default)", string.Empty, StringComparison.Ordinal).Trim();
                        syntaxSets.Add(set == "__AllParameterSets" ? "(All)" : set);
                        continue;
                    default:
                        throw Error(block, $"Expect Heading level {(section is null ? 2 : 3)}: '{title}' (level {heading.Level}) is not allowed in {section ?? "the preamble"}");
                }
            }

            if (section is null)
            {
                throw Error(block, "text before the first '## ' section");
            }

            switch (section)
            {
                case "SYNTAX":
                    break;
                case "PARAMETERS" when parameter is not null:
                    if (block is FencedCodeBlock { Info: "yaml" } code)
                    {
                        parameter.Sets.Add(ParseParameterYaml(Markdown.Code(code), key => Error(block, $"unknown key '{key}' in the yaml of -{parameter.Name}")));
                    }
                    else if (parameter.Sets.Count == 0)
                    {
                        parameter.Description.AddRange(Markdown.Paragraphs(block));
                    }

                    break;
                case "PARAMETERS":
                    break;   // CommonParameters boilerplate
                case "EXAMPLES":
                    if (example is null)
                    {
                        throw Error(block, "text before the first '### ' example");
                    }

                    if (block is FencedCodeBlock exampleCode)
                    {
                        example.Code.Add(Markdown.Code(exampleCode));
                    }
                    else
                    {
                        (example.Code.Count == 0 ? example.Introduction : example.Remarks).AddRange(Markdown.Paragraphs(block));
                    }

                    break;
                case "INPUTS" or "OUTPUTS":
                    if (typeText is null)
                    {
                        throw Error(block, $"text in {section} before its first '### Type'");
                    }

                    typeText.AddRange(Markdown.Paragraphs(block));
                    break;
                case "RELATED LINKS":
                    if (block is ParagraphBlock { Inline: not null } links1)
                    {
                        links.AddRange(links1.Inline.Descendants<LinkInline>().Select(l => (Markdown.Text(l), l.Url ?? string.Empty)));
                    }

                    break;
                default:
                    text[section].AddRange(Markdown.Paragraphs(block));
                    break;
            }
        }

        if (name is null)
        {
            throw new HelpSchemaException(file, 1, "no '# Command-Name' heading");
        }

        foreach (Parameter p in parameters.Where(p => p.Sets.Count == 0))
        {
            throw new HelpSchemaException(file, 1, $"-{p.Name} has no ```yaml block");
        }

        string helpFile = front.TryGetValue("external help file", out string? value) && value.Length != 0
            ? value
            : throw new HelpSchemaException(file, 1, "the front matter has no 'external help file'");
        return (helpFile, Render(name, text, syntaxSets, parameters, examples, inputs, outputs, links));
    }

    private static Dictionary<string, string> ParseParameterYaml(string yaml, Func<string, Exception> unknownKey)
    {
        var values = new DeserializerBuilder().Build().Deserialize<Dictionary<string, string?>>(yaml) ?? [];
        foreach (string key in values.Keys.Where(k => !YamlKeys.Contains(k)))
        {
            throw unknownKey(key);
        }

        return values.ToDictionary(kv => kv.Key, kv => kv.Value ?? string.Empty);
    }

    private static XElement Paras(XName name, IEnumerable<string> paragraphs)
    {
        var list = paragraphs.ToList();
        return new XElement(name, list.Count == 0 ? [new XElement(Maml + "para", string.Empty)] : list.Select(p => new XElement(Maml + "para", p)));
    }

    private static XElement Render(string name, Dictionary<string, List<string>> text, List<string> syntaxSets, List<Parameter> parameters,
        List<Example> examples, List<(string Type, List<string> Text)> inputs, List<(string Type, List<string> Text)> outputs,
        List<(string Text, string Uri)> links)
    {
        int dash = name.IndexOf('-', StringComparison.Ordinal);
        return new XElement(Command + "command",
            new XAttribute(XNamespace.Xmlns + "maml", Maml.NamespaceName),
            new XAttribute(XNamespace.Xmlns + "command", Command.NamespaceName),
            new XAttribute(XNamespace.Xmlns + "dev", Dev.NamespaceName),
            new XAttribute(XNamespace.Xmlns + "MSHelp", MsHelp.NamespaceName),
            new XElement(Command + "details",
                new XElement(Command + "name", name),
                new XElement(Command + "verb", dash < 0 ? name : name[..dash]),
                new XElement(Command + "noun", dash < 0 ? string.Empty : name[(dash + 1)..]),
                Paras(Maml + "description", text["SYNOPSIS"])),
            Paras(Maml + "description", text["DESCRIPTION"]),
            new XElement(Command + "syntax", Syntax(name, syntaxSets, parameters)),
            new XElement(Command + "parameters", parameters.Select(p => ParameterElement(p, p.Sets[0], inSyntax: false))),
            new XElement(Command + "inputTypes", inputs.Select(i => new XElement(Command + "inputType",
                new XElement(Dev + "type", new XElement(Maml + "name", i.Type)), Paras(Maml + "description", i.Text)))),
            new XElement(Command + "returnValues", outputs.Select(o => new XElement(Command + "returnValue",
                new XElement(Dev + "type", new XElement(Maml + "name", o.Type)), Paras(Maml + "description", o.Text)))),
            new XElement(Maml + "alertSet", Paras(Maml + "alert", text["NOTES"])),
            new XElement(Command + "examples", examples.Select(e => new XElement(Command + "example",
                new XElement(Maml + "title", ExampleTitle(e.Title)),
                Paras(Maml + "introduction", e.Introduction),
                new XElement(Dev + "code", string.Join("\r\n\r\n", e.Code)),
                new XElement(Dev + "remarks", Paras(Maml + "description", e.Remarks).Elements())))),
            new XElement(Command + "relatedLinks", links.Select(l => new XElement(Maml + "navigationLink",
                new XElement(Maml + "linkText", l.Text),
                new XElement(Maml + "uri", Uri.IsWellFormedUriString(l.Uri, UriKind.Absolute) ? l.Uri : string.Empty)))));
    }

    /// <summary>
    /// One syntax item per parameter set: those the SYNTAX headings name, in their order, then any other set a parameter
    /// names, in order of first appearance; (All) joins every set.
    /// </summary>
    private static IEnumerable<XElement> Syntax(string name, List<string> syntaxSets, List<Parameter> parameters)
    {
        var sets = syntaxSets.Where(s => s != "(All)").Distinct().ToList();
        foreach (var set in parameters.SelectMany(p => p.Sets))
        {
            foreach (string s in SetNames(set).Where(s => s != "(All)" && !sets.Contains(s)))
            {
                sets.Add(s);
            }
        }

        if (sets.Count == 0)
        {
            sets.Add("(All)");
        }

        foreach (string set in sets)
        {
            var members = new List<(Parameter Parameter, Dictionary<string, string> Yaml, int Order)>();
            for (int i = 0; i < parameters.Count; i++)
            {
                var yaml = parameters[i].Sets.FirstOrDefault(y => SetNames(y).Contains(set) || SetNames(y).Contains("(All)"));
                if (yaml is not null)
                {
                    members.Add((parameters[i], yaml, i));
                }
            }

            yield return new XElement(Command + "syntaxItem", new XElement(Maml + "name", name),
                members.OrderBy(m => int.TryParse(m.Yaml.GetValueOrDefault("Position"), out int p) ? p : int.MaxValue).ThenBy(m => m.Order)
                    .Select(m => ParameterElement(m.Parameter, m.Yaml, inSyntax: true)));
        }
    }

    private static string[] SetNames(Dictionary<string, string> yaml) =>
        yaml.GetValueOrDefault("Parameter Sets", "(All)").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    private static XElement ParameterElement(Parameter parameter, Dictionary<string, string> yaml, bool inSyntax)
    {
        string type = yaml.GetValueOrDefault("Type", "Object");
        string aliases = yaml.GetValueOrDefault("Aliases", string.Empty);
        var element = new XElement(Command + "parameter",
            new XAttribute("required", Flag(yaml.GetValueOrDefault("Required", "False"))),
            new XAttribute("variableLength", "true"),
            new XAttribute("globbing", Flag(yaml.GetValueOrDefault("Accept wildcard characters", "False"))),
            new XAttribute("pipelineInput", yaml.GetValueOrDefault("Accept pipeline input", "False")),
            new XAttribute("position", yaml.GetValueOrDefault("Position", "Named").ToLowerInvariant()),
            new XAttribute("aliases", aliases.Length == 0 ? "none" : aliases),
            new XElement(Maml + "name", parameter.Name),
            Paras(Maml + "description", parameter.Description));
        if (inSyntax && yaml.TryGetValue("Accepted values", out string? accepted) && accepted.Length != 0)
        {
            element.Add(new XElement(Command + "parameterValueGroup", accepted.Split(',', StringSplitOptions.TrimEntries)
                .Select(v => new XElement(Command + "parameterValue", new XAttribute("required", "false"), new XAttribute("variableLength", "false"), v))));
        }

        if (!(inSyntax && type == "SwitchParameter"))
        {
            element.Add(new XElement(Command + "parameterValue", new XAttribute("required", "true"), new XAttribute("variableLength", "false"), type));
        }

        string defaultValue = yaml.GetValueOrDefault("Default value", "None");
        element.Add(new XElement(Dev + "type", new XElement(Maml + "name", type), new XElement(Maml + "uri")),
            new XElement(Dev + "defaultValue", type == "SwitchParameter" && defaultValue is "None" or "" ? "False" : defaultValue));
        return element;
    }

    private static string Flag(string value) => value.Equals("True", StringComparison.OrdinalIgnoreCase) ? "true" : "false";

    private static string ExampleTitle(string title)
    {
        if (title.Length >= 62)
        {
            return title;
        }

        string pad = new('-', (64 - title.Length - 2) / 2);
        return $"{pad} {title} {pad}";
    }
}

/// <summary>about_*.md to the text Get-Help shows (platyPS TextRenderer: 80 columns, 4-space indent, CRLF).</summary>
internal static class AboutTopic
{
    public static string Render(string file)
    {
        MarkdownDocument document = Markdig.Markdown.Parse(File.ReadAllText(file), Markdown.Pipeline);
        var text = new StringBuilder();
        bool first = true;
        foreach (Block block in document)
        {
            switch (block)
            {
                case YamlFrontMatterBlock:
                    break;
                case HeadingBlock heading:
                    string title = Markdown.Text(heading.Inline).Trim();
                    if (first)
                    {
                        text.Append("TOPIC\r\n    ").Append(title).Append("\r\n\r\n");
                        first = false;
                    }
                    else
                    {
                        text.Append(heading.Level <= 2 ? title.ToUpperInvariant() : "    " + title).Append("\r\n");
                    }

                    break;
                case FencedCodeBlock code:
                    foreach (string line in Markdown.Code(code).Split("\r\n"))
                    {
                        text.Append("        ").Append(line).Append("\r\n");
                    }

                    text.Append("\r\n");
                    break;
                default:
                    foreach (string paragraph in Markdown.Paragraphs(block))
                    {
                        Wrap(text, paragraph, paragraph.StartsWith("- ", StringComparison.Ordinal) ? "      " : "    ");
                    }

                    text.Append("\r\n");
                    break;
            }
        }

        return text.ToString();
    }

    private static void Wrap(StringBuilder text, string paragraph, string continuation)
    {
        var line = new StringBuilder("    ");
        foreach (string word in paragraph.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Length + word.Length + 1 > 80 && line.ToString().Trim().Length != 0)
            {
                text.Append(line.ToString().TrimEnd()).Append("\r\n");
                line.Clear().Append(continuation);
            }

            line.Append(word).Append(' ');
        }

        text.Append(line.ToString().TrimEnd()).Append("\r\n");
    }
}
